import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Errors } from "./errors.ts";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("the error registry and the README stay in step", () => {
  it("documents every registry entry with its code, HTTP status and msg", () => {
    for (const [name, e] of Object.entries(Errors)) {
      const row = `| ${e.code} | ${e.httpStatus} | ${e.msg} |`;
      assert.ok(readme.includes(row), `README lacks the row for ${name}: ${row}`);
    }
  });

  it("documents no code the registry lacks", () => {
    const known = new Set(Object.values(Errors).map((e) => `${e.code}|${e.httpStatus}`));
    const rows = [...readme.matchAll(/^\| (\d+) \| (\d{3}) \|/gm)];
    assert.ok(rows.length >= Object.keys(Errors).length);
    for (const [, code, status] of rows)
      assert.ok(known.has(`${code}|${status}`), `README documents ${code}/${status}, the registry does not`);
  });

  it("keeps platform codes on the platform's msg and HTTP 200 for the tokenLoginValidate codes", () => {
    for (const name of [
      "AccessTokenInvalid",
      "CodeAppIdNotMatch",
      "InvalidCode",
      "UserNoVisibility",
    ] as const) {
      assert.equal(Errors[name].httpStatus, 200);
      assert.equal(Errors[name].origin, "platform");
    }
    assert.equal(Errors.CodeAppIdNotMatch.msg, "code appid not match");
  });
});
