import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { withAdmission } from "./admission.ts";

/** A request as the admission sees it: a URL and two live sockets. */
function fakeRequest(url: string): [IncomingMessage, ServerResponse] {
  const socket = { destroyed: false };
  return [{ url, socket } as unknown as IncomingMessage, { destroyed: false } as unknown as ServerResponse];
}

function admitted(open: number) {
  const started: string[] = [];
  const admit = withAdmission(
    (request) => void started.push(request.url ?? ""),
    () => open,
    256,
  );
  return { started, send: (url: string) => admit(...fakeRequest(url)) };
}

describe("admission", () => {
  it("below the crowd mark, every request starts on the turn that reads it", () => {
    const { started, send } = admitted(50);
    for (let i = 0; i < 40; i++) send(`/r${i}`);
    assert.equal(started.length, 40);
  });

  it("when crowded, one request starts per turn, in order; /healthz never waits", async () => {
    const { started, send } = admitted(1000);
    send("/a");
    send("/b");
    send("/c");
    send("/healthz");
    assert.deepEqual(started, ["/a", "/healthz"]);
    await nextTurn();
    assert.deepEqual(started, ["/a", "/healthz", "/b"]);
    await nextTurn();
    assert.deepEqual(started, ["/a", "/healthz", "/b", "/c"]);
  });
});
