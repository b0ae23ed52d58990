import assert from "node:assert/strict";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { decryptUserData, UserDataError, verifyUserInfoSignature } from "./user-data.ts";

const APP_ID = "cli_a1b2c3d4e5f6a7b8";
const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);

/** A getUserInfo payload made with node:crypto, as the platform describes it (independent of the module). */
function sealed(sessionKey: string, plain: object) {
  const rawData = JSON.stringify({ nickName: "张三", avatarUrl: "" });
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-128-cbc", Buffer.from(sessionKey, "hex"), iv);
  const encryptedData = Buffer.concat([cipher.update(JSON.stringify(plain)), cipher.final()]).toString(
    "base64",
  );
  return {
    rawData,
    signature: createHash("sha1")
      .update(rawData + sessionKey)
      .digest("hex"),
    encryptedData,
    iv: iv.toString("hex"),
  };
}

const key = () => randomBytes(16).toString("hex");
const plainAt = (seconds: number, appid = APP_ID) => ({
  openId: "ou_194fcfc5e4b78db556a040ff5e42c0aa",
  unionId: "on_94a1ee5551019f18cd73d9f111898cf2",
  watermark: { appid, timestamp: seconds },
});
const options = { appId: APP_ID, maxAgeMs: 5 * 60_000, now: NOW };

/** Awaits a refusal and checks which check failed, and that the message never carries the key. */
async function refused(promise: Promise<unknown>, code: UserDataError["code"], sessionKey: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof UserDataError, String(error));
    assert.equal(error.code, code);
    assert.ok(!error.message.includes(sessionKey), "the message does not echo the session_key");
    return true;
  });
}

describe("verifyUserInfoSignature", () => {
  it("accepts rawData signed with the session_key", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000));
    await verifyUserInfoSignature(p.rawData, p.signature, sk);
    await verifyUserInfoSignature(p.rawData, p.signature.toUpperCase(), sk);
  });

  it("refuses tampered rawData, a wrong key and a malformed signature: signature_mismatch", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000));
    await refused(
      verifyUserInfoSignature(p.rawData.replace("张三", "李四"), p.signature, sk),
      "signature_mismatch",
      sk,
    );
    const other = key();
    await refused(verifyUserInfoSignature(p.rawData, p.signature, other), "signature_mismatch", other);
    await refused(verifyUserInfoSignature(p.rawData, "abc", sk), "signature_mismatch", sk);
  });

  it("refuses arguments that are not strings: malformed_input", async () => {
    const sk = key();
    await refused(verifyUserInfoSignature(undefined as unknown as string, "", sk), "malformed_input", sk);
  });
});

describe("decryptUserData", () => {
  it("decrypts and returns the sensitive data of a fresh watermark for this app", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000 - 60));
    const data = await decryptUserData(p.encryptedData, p.iv, sk, options);
    assert.deepEqual(data, plainAt(NOW / 1000 - 60));
  });

  it("refuses a wrong key: decrypt_failed", async () => {
    const p = sealed(key(), plainAt(NOW / 1000));
    const wrong = key();
    await refused(decryptUserData(p.encryptedData, p.iv, wrong, options), "decrypt_failed", wrong);
  });

  it("refuses altered ciphertext: decrypt_failed", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000));
    const bytes = Buffer.from(p.encryptedData, "base64");
    bytes[bytes.length - 1]! ^= 0xff;
    await refused(decryptUserData(bytes.toString("base64"), p.iv, sk, options), "decrypt_failed", sk);
  });

  it("refuses data without a watermark: decrypt_failed", async () => {
    const sk = key();
    const p = sealed(sk, { openId: "ou_x" });
    await refused(decryptUserData(p.encryptedData, p.iv, sk, options), "decrypt_failed", sk);
  });

  it("refuses another app's watermark: appid_mismatch", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000, "cli_9f8e7d6c5b4a3921"));
    await refused(decryptUserData(p.encryptedData, p.iv, sk, options), "appid_mismatch", sk);
  });

  it("refuses an old watermark, and one from beyond the window ahead: watermark_expired", async () => {
    const sk = key();
    const old = sealed(sk, plainAt(NOW / 1000 - 301));
    await refused(decryptUserData(old.encryptedData, old.iv, sk, options), "watermark_expired", sk);
    const ahead = sealed(sk, plainAt(NOW / 1000 + 301));
    await refused(decryptUserData(ahead.encryptedData, ahead.iv, sk, options), "watermark_expired", sk);
  });

  it("refuses a session_key that is not 16 bytes of hex: invalid_session_key", async () => {
    const p = sealed(key(), plainAt(NOW / 1000));
    for (const bad of ["", "e3aeb7df000c835365c630dac91bcf", Buffer.from(key(), "hex").toString("base64")])
      await refused(
        decryptUserData(p.encryptedData, p.iv, bad, options),
        "invalid_session_key",
        bad || "\u0000",
      );
  });

  it("refuses an iv or encryptedData out of their format: malformed_input", async () => {
    const sk = key();
    const p = sealed(sk, plainAt(NOW / 1000));
    await refused(decryptUserData(p.encryptedData, "zz", sk, options), "malformed_input", sk);
    await refused(decryptUserData("not base64!", p.iv, sk, options), "malformed_input", sk);
    await refused(decryptUserData("AAAA", p.iv, sk, options), "malformed_input", sk);
  });
});
