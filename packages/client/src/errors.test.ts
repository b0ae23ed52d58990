// Keeps the client's ErrorCodes in step with the server's registry (@mina-auth/protocol).
// The client must stand alone, so it copies the numbers; this test catches drift.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errors } from "@mina-auth/protocol";
import { APP_TOKEN_REJECTED_CODES, ErrorCodes } from "./errors.ts";

/** Codes the client knows that the server never sends, and why. */
const CLIENT_ONLY: Record<string, string> = {
  TenantAccessTokenInvalid: "platform gateway code (99991663); mina-auth answers 10202/20014 instead",
  AppAccessTokenInvalid: "platform gateway code (99991664); mina-auth answers 10202/20014 instead",
  InvalidTokenFormat: "platform gateway code (99991671); mina-auth answers 10202/20014 instead",
  RefreshTenantTokenInvalid: "platform code 20013 for a tenant token on authen/v1; mina-auth answers 20014",
};

describe("ErrorCodes", () => {
  it("has every non-admin registry entry, under the same name, with the same number", () => {
    for (const [name, def] of Object.entries(Errors)) {
      if (name.startsWith("Admin")) continue; // the admin API is not the client's
      assert.equal(
        (ErrorCodes as Record<string, number>)[name],
        def.code,
        `ErrorCodes.${name} should be ${def.code} (packages/protocol/src/errors.ts)`,
      );
    }
  });

  it("has nothing else but the documented client-only codes", () => {
    for (const name of Object.keys(ErrorCodes)) {
      assert.ok(
        name in Errors || name in CLIENT_ONLY,
        `ErrorCodes.${name} is neither in the registry nor client-only`,
      );
    }
  });

  it("retries on the registry's app-token-invalid codes", () => {
    assert.ok(APP_TOKEN_REJECTED_CODES.has(Errors.AccessTokenInvalid.code));
    assert.ok(APP_TOKEN_REJECTED_CODES.has(Errors.RefreshAppTokenInvalid.code));
    assert.ok(
      !APP_TOKEN_REJECTED_CODES.has(Errors.UserAccessTokenInvalid.code),
      "a user token is not refetchable",
    );
  });
});
