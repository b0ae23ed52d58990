// The client's ErrorCodes are built from @mina-auth/protocol (inlined into the client's dist at
// build): this pins what they hold, the registry's non-admin codes and the platform-only ones.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errors, PlatformOnlyCodes } from "@mina-auth/protocol";
import { APP_TOKEN_REJECTED_CODES, ErrorCodes } from "./errors.ts";

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

  it("has the platform-only codes and nothing else", () => {
    for (const [name, code] of Object.entries(PlatformOnlyCodes)) {
      assert.equal((ErrorCodes as Record<string, number>)[name], code, name);
      const registry: number[] = Object.values(Errors).map((e) => e.code);
      assert.ok(!registry.includes(code), `${name} (${code}) is in the registry`);
    }
    for (const name of Object.keys(ErrorCodes)) {
      assert.ok(
        (name in Errors && !name.startsWith("Admin")) || name in PlatformOnlyCodes,
        `ErrorCodes.${name} is neither a non-admin registry entry nor platform-only`,
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
