/**
 * What the edge refuses as text no database stores (http/unstorable-text.ts): a NUL and a lone
 * surrogate, in values and keys, at any depth, reported by path and never by value; a proper
 * surrogate pair (an emoji) and other text pass. Over HTTP: edge-input.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  findUnstorableInRequest,
  findUnstorableText,
  isValidUtf8,
  mayHoldUnstorableText,
} from "../src/http/unstorable-text.ts";

describe("findUnstorableText", () => {
  it("passes ordinary text, an emoji's surrogate pair and CJK", () => {
    assert.equal(
      findUnstorableText({ name: "张三 😀", list: ["a", 1, null, true], nested: { ok: "é" } }),
      null,
    );
  });

  it("names the path of a NUL or a lone surrogate, in values and keys, at any depth", () => {
    assert.equal(findUnstorableText({ app_id: "cli_\u0000" }), "app_id");
    assert.equal(findUnstorableText({ users: [{ name: "ok" }, { name: "\ud83d" }] }), "users[1].name");
    assert.equal(findUnstorableText({ a: { "k\u0000": 1 } }), "a");
    assert.equal(findUnstorableText({ "k\udc00": 1 }), "a key");
    assert.equal(findUnstorableText("\u0000"), "value");
  });

  it("checks a routed request's params, query and body, naming which", () => {
    assert.equal(
      findUnstorableInRequest({ params: { id: "x" }, query: { q: "\u0000" }, body: undefined }),
      "query.q",
    );
    assert.equal(findUnstorableInRequest({ params: {}, query: {}, body: { ok: "yes" } }), null);
  });
});

describe("the byte checks a platform body goes through", () => {
  it("flags bodies with a backslash or bytes that are not UTF-8, and only those", () => {
    assert.equal(mayHoldUnstorableText(Buffer.from('{"app_id":"cli_a"}')), false);
    assert.equal(mayHoldUnstorableText(Buffer.from('{"app_id":"\\u0000"}')), true);
    const invalid = Buffer.from([0x7b, 0xff, 0x7d]);
    assert.equal(mayHoldUnstorableText(invalid), true);
    assert.equal(isValidUtf8(invalid), false);
    assert.equal(isValidUtf8(Buffer.from("张三 😀")), true);
  });
});
