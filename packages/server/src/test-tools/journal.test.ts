import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.ts";
import { Journal, type JournalRecord, redact } from "./journal.ts";

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
    assert.equal(redact("s3cret", "app_secret"), out.app_secret);
    assert.match(String(redact("a-store-app-ticket", "app_ticket")), /^\[redacted:[0-9a-f]{8}\]$/);
    assert.equal(out.n, 7);
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
});
