/** The console's pure helpers: what it reads from the server's text and how it says errors. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inWords } from "../src/errors-in-words.ts";
import { countExchanges } from "../src/metrics-text.ts";
import { fieldPath } from "../src/seed-errors.ts";

describe("console helpers", () => {
  it("counts logins and failed exchanges in the server's Prometheus text, nothing else", () => {
    const text = [
      "# TYPE mina_auth_requests_total counter",
      'mina_auth_requests_total{route="/open-apis/mina/v2/tokenLoginValidate",code="0"} 12',
      'mina_auth_requests_total{route="/open-apis/mina/v2/tokenLoginValidate",code="10228"} 2',
      'mina_auth_requests_total{route="/open-apis/mina/v2/tokenLoginValidate",code="10226"} 1',
      'mina_auth_requests_total{route="/admin/v1/login-codes",code="0"} 40',
      'mina_auth_request_duration_seconds_sum{route="/open-apis/mina/v2/tokenLoginValidate"} 0.5',
    ].join("\n");
    assert.deepEqual(countExchanges(text), { logins: 12, failures: 3 });
    assert.deepEqual(countExchanges(""), { logins: 0, failures: 0 });
  });

  it("finds the field a seed error names", () => {
    assert.deepEqual(fieldPath("invalid request: users[0].tenant_key is required"), [
      "users",
      0,
      "tenant_key",
    ]);
    assert.deepEqual(fieldPath("invalid request: apps[2].installations[1].visibility must be"), [
      "apps",
      2,
      "installations",
      1,
      "visibility",
    ]);
    assert.deepEqual(fieldPath("invalid request: users[3]: unknown tenant_key 123"), [
      "users",
      3,
      "tenant_key",
    ]);
    // The strict seed reader's form: a source, then every issue by JSON path, joined with "; ".
    assert.deepEqual(
      fieldPath(
        "invalid request: request body: users[0].tenant_key: is required; request body: apps[0].name: is required",
      ),
      ["users", 0, "tenant_key"],
    );
    assert.equal(fieldPath("invalid request: the seed must be a JSON object"), null);
  });

  it("says a code in words, keeping the server's msg", () => {
    assert.equal(
      inWords(10228, "user to app has no visibility"),
      "This user may not log in to this app: the user is deactivated or outside the app's visibility. (code 10228: user to app has no visibility)",
    );
    assert.equal(inWords(9404, "not found: app x"), "Not found: app x (code 9404)");
    assert.equal(inWords(9400, "limit must be"), "The server refused the request: limit must be (code 9400)");
    assert.equal(inWords(424242, "odd"), "Error 424242: odd");
  });
});
