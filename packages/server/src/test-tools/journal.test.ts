import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.ts";
import { Journal, type JournalRecord } from "./journal.ts";
import { MAX_DEPTH, redact } from "./redaction.ts";

const record = (overrides: Partial<JournalRecord> = {}): JournalRecord => ({
  method: "POST",
  route: "/open-apis/mina/v2/tokenLoginValidate",
  app_id: "cli_a",
  status: 200,
  code: 0,
  ms: 1.234,
  fault: null,
  headers: {},
  requestBody: { code: "secret-code" },
  responseBody: { code: 0 },
  ...overrides,
});

describe("the request journal", () => {
  it("keeps the last `capacity` entries, numbered, on the server's clock", () => {
    const clock = new ManualClock(1_000);
    const journal = new Journal(3, clock);
    for (let i = 0; i < 5; i++) {
      journal.record(record());
      clock.advance(10);
    }
    const entries = journal.query();
    assert.deepEqual(
      entries.map((e) => [e.seq, e.at]),
      [
        [3, 1020],
        [4, 1030],
        [5, 1040],
      ],
    );
    assert.equal(entries[0]!.ms, 1.2);
    assert.equal(journal.lastSeq, 5);
    journal.clear();
    assert.deepEqual(journal.query(), []);
    assert.equal(journal.lastSeq, 5);
  });

  it("a body over 4 KiB is kept as its size only", () => {
    const journal = new Journal(1, new ManualClock());
    journal.record(record({ requestBody: { note: "x".repeat(5000) } }));
    assert.deepEqual(journal.query()[0]!.request.body, { truncated: true, chars: 5011 });
  });

  it("redacts secrets at any depth, to the same fingerprint for the same value; keeps the rest", () => {
    const out = redact({
      app_id: "cli_a",
      app_secret: "s3cret",
      data: { access_token: "u-1", refresh_token: "ur-1", session_key: "k", open_id: "ou_1" },
      list: [{ code: "c" }],
      n: 7,
    }) as Record<string, unknown>;
    const text = JSON.stringify(out);
    for (const secret of ["s3cret", "u-1", "ur-1", '"k"', '"c"']) assert.ok(!text.includes(secret), secret);
    assert.equal(out.app_id, "cli_a");
    assert.equal((out.data as Record<string, unknown>).open_id, "ou_1");
    assert.deepEqual(redact({ app_secret: "s3cret" }), { app_secret: out.app_secret });
    assert.match(
      JSON.stringify(redact({ app_ticket: "a-store-app-ticket" })),
      /"app_ticket":"\[redacted:[0-9a-f]{8}\]"/,
    );
    assert.equal(out.n, 7);
  });

  it("redacts v2 oauth/token's client_secret and code_verifier", () => {
    const out = redact({ client_id: "cli_a", client_secret: "v2-s3cret", code_verifier: "v".repeat(43) });
    const text = JSON.stringify(out);
    assert.ok(!text.includes("v2-s3cret") && !text.includes("v".repeat(43)), text);
    assert.equal((out as Record<string, unknown>).client_id, "cli_a");
  });

  it("keeps only known headers, the bearer as a fingerprint", () => {
    const journal = new Journal(1, new ManualClock());
    journal.record(
      record({
        headers: { authorization: "Bearer t-abc", cookie: "x=1", "content-type": "application/json" },
      }),
    );
    const { headers } = journal.query()[0]!.request;
    assert.deepEqual(Object.keys(headers).sort(), ["authorization", "content-type"]);
    assert.match(headers.authorization!, /^Bearer \[redacted:[0-9a-f]{8}\]$/);
  });

  it("redacts whatever the key's case, below any credential key, and in arrays of bare secrets", () => {
    const code = "0123456789abcdef0123456789abcdef01234567beef";
    const token = `u-${"A".repeat(51)}`;
    const secret = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    const out = redact({
      Code: "plain-code",
      CODE: "another",
      nested: { deeper: { token: "t0k" } },
      credentials: { inner: "anything" },
      list: [code, token, `Bearer ${token}`, { note: secret }],
      [code]: 1,
      open_id: `ou_${"a".repeat(32)}`,
      tenant_key: "736588c9260f175d",
      msg: "ok",
    });
    const text = JSON.stringify(out);
    for (const leak of ["plain-code", "another", "t0k", "anything", code, token, secret]) {
      assert.ok(!text.includes(leak), leak);
    }
    const kept = out as Record<string, unknown>;
    assert.equal(kept.open_id, `ou_${"a".repeat(32)}`);
    assert.equal(kept.tenant_key, "736588c9260f175d");
    assert.equal(kept.msg, "ok");
    // A top-level array of codes, as a caller might send by mistake.
    assert.ok(!JSON.stringify(redact([code, code])).includes(code));
  });

  it("a body nested beyond the bounds is kept as a note, without a RangeError", () => {
    const journal = new Journal(2, new ManualClock());
    const deep = JSON.parse(`${"[".repeat(20_000)}${"]".repeat(20_000)}`);
    journal.record(record({ requestBody: deep }));
    const wide = { list: Array.from({ length: 50_000 }, (_, i) => i) };
    journal.record(record({ requestBody: wide }));
    const [first, second] = journal.query();
    assert.deepEqual(first!.request.body, { truncated: true, reason: "too deep or too many values" });
    assert.deepEqual(second!.request.body, { truncated: true, reason: "too deep or too many values" });
    const shallow = redact(JSON.parse(`${"[".repeat(MAX_DEPTH)}1${"]".repeat(MAX_DEPTH)}`));
    assert.ok(!JSON.stringify(shallow).includes("[cut]"));
  });

  it("limit 0 is none (not all)", () => {
    const journal = new Journal(3, new ManualClock());
    journal.record(record());
    assert.deepEqual(journal.query({ limit: 0 }), []);
    assert.equal(journal.query({ limit: 1 }).length, 1);
  });
});
