import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errors } from "@mina-auth/protocol";
import { oauthShape } from "./oauth-endpoints.ts";

describe("the v2 token endpoint's answer shape", () => {
  it("a success is flat: code 0 and the answer's fields, no msg", () => {
    assert.deepEqual(oauthShape.success({ access_token: "u-x", expires_in: 6900 }), {
      code: 0,
      access_token: "u-x",
      expires_in: 6900,
    });
  });

  it("a bug is 20050 server_error with HTTP 500, never the registry's internal msg", () => {
    assert.deepEqual(oauthShape.failure(Errors.InternalError, "internal error"), {
      status: 500,
      body: { code: 20050, error: "server_error", error_description: Errors.OAuthServerError.msg },
    });
  });

  it("a storage fault is 20072 temporarily_unavailable with HTTP 503, whatever family named it", () => {
    for (const fault of [Errors.StorageUnavailable, Errors.AuthenSystemError]) {
      assert.deepEqual(oauthShape.failure(fault, fault.msg), {
        status: 503,
        body: {
          code: 20072,
          error: "temporarily_unavailable",
          error_description: Errors.OAuthTemporarilyUnavailable.msg,
        },
      });
    }
  });

  it("outcome unknown keeps 9502 but answers 400 invalid_grant: never a 200 an RFC 6749 client takes for success", () => {
    assert.deepEqual(oauthShape.failure(Errors.OutcomeUnknown, Errors.OutcomeUnknown.msg), {
      status: 400,
      body: { code: 9502, error: "invalid_grant", error_description: Errors.OutcomeUnknown.msg },
    });
  });

  it("the endpoint's own codes keep their status and name their RFC 6749 error; the server's keep theirs", () => {
    assert.deepEqual(oauthShape.failure(Errors.OAuthInvalidClient, Errors.OAuthInvalidClient.msg), {
      status: 400,
      body: { code: 20002, error: "invalid_client", error_description: Errors.OAuthInvalidClient.msg },
    });
    assert.deepEqual(oauthShape.failure(Errors.OAuthCodeUsed, "m").body, {
      code: 20065,
      error: "invalid_grant",
      error_description: "m",
    });
    const limited = oauthShape.failure(Errors.RateLimited, Errors.RateLimited.msg);
    assert.equal(limited.status, 429);
    assert.deepEqual(limited.body, {
      code: 99991400,
      error: "invalid_request",
      error_description: Errors.RateLimited.msg,
    });
  });
});
