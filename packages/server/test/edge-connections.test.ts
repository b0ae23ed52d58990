/**
 * Issue 14, item 5 and the connection cap, through real HTTP on a server child process (on a
 * SQLite file and on PostgreSQL): a connection that sends nothing, or stops half-way through its
 * headers, gets the 408 envelope and is closed; so are hundreds of them at once, while a
 * kept-alive connection idles beside them. Over `MINA_AUTH_MAX_CONNECTIONS`, a request gets 503
 * 9503 with `Retry-After` and `Connection: close`, /healthz still 200, and the server takes
 * requests again once connections close.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { Errors } from "@mina-auth/protocol";
import { call } from "./child-server.ts";
import { backends, serversOn } from "./edge-backends.ts";
import { parseResponses, rawExchange, requestBytes } from "./raw-http.ts";

const ADMIN = "edge-connections-admin-token-0123456789";
const TIMEOUT_MS = 1500;

/** A socket that has had one answer and now idles, kept alive, on the server. */
async function keptAlive(base: string): Promise<net.Socket> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  socket.on("error", () => {});
  await new Promise<void>((resolve) => {
    socket.once("data", () => resolve());
    socket.write(requestBytes("GET", "/healthz"));
  });
  return socket;
}

/** The server's open file descriptors, from its /metrics. */
async function openFds(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const match = /^process_open_fds (\d+)/m.exec(text);
  assert.ok(match, "process_open_fds in /metrics");
  return Number(match[1]);
}

function assertTimedOut(text: string): void {
  const [res] = parseResponses(text);
  assert.equal(res!.status, 408, text);
  assert.deepEqual(res!.body, { code: Errors.RequestTimeout.code, msg: Errors.RequestTimeout.msg });
  assert.equal(res!.headers.get("connection"), "close");
}

for (const backend of backends) {
  describe(`connections on ${backend.name}`, { skip: backend.skip }, () => {
    const servers = serversOn(
      backend,
      ADMIN,
      { MINA_AUTH_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) },
      { MINA_AUTH_MAX_CONNECTIONS: "3" },
    );
    const server = {
      get url() {
        return servers[0]!.url;
      },
    };
    const capped = {
      get url() {
        return servers[1]!.url;
      },
    };

    it("closes a connection that sends nothing, and one that stops half-way through its headers", async () => {
      const idle = await keptAlive(server.url);
      try {
        for (const bytes of [null, "GET /heal", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "]) {
          const exchange = await rawExchange(server.url, bytes, 20 * TIMEOUT_MS);
          assert.ok(exchange.closedByServer, `still open: ${JSON.stringify(bytes)}`);
          assertTimedOut(exchange.text);
        }
      } finally {
        idle.destroy();
      }
    });

    it("closes hundreds of silent connections at once, beside a kept-alive one, and frees their sockets", async () => {
      const idle = await keptAlive(server.url);
      const before = await openFds(server.url);
      // These clients never close their side: the server must (node:http's timeout only ended its
      // side, and each socket stayed open on the server for good).
      const exchanges = await Promise.all(
        Array.from({ length: 300 }, () => rawExchange(server.url, null, 40 * TIMEOUT_MS, true)),
      );
      try {
        assert.equal(exchanges.filter((e) => e.closedByServer).length, exchanges.length);
        for (const exchange of exchanges) assertTimedOut(exchange.text);
        let open = Number.POSITIVE_INFINITY;
        for (let attempt = 0; attempt < 100 && open > before + 50; attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          open = await openFds(server.url);
        }
        assert.ok(
          open <= before + 50,
          `the server still holds ${open - before} more descriptors than before`,
        );
      } finally {
        for (const exchange of exchanges) exchange.close();
        idle.destroy();
      }
    });

    it("answers a request body that never finishes with 408 and closes", async () => {
      const exchange = await rawExchange(
        server.url,
        "POST /open-apis/auth/v3/app_access_token/internal HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        20 * TIMEOUT_MS,
      );
      assert.ok(exchange.closedByServer);
      assertTimedOut(exchange.text);
    });

    it("answers 503 with Retry-After over the connection cap, /healthz still 200, then recovers", async () => {
      const held = [await keptAlive(capped.url), await keptAlive(capped.url), await keptAlive(capped.url)];
      try {
        const busy = await rawExchange(capped.url, requestBytes("GET", "/readyz"));
        const [res] = parseResponses(busy.text);
        assert.equal(res!.status, 503, busy.text);
        assert.deepEqual(res!.body, { code: Errors.ServerBusy.code, msg: Errors.ServerBusy.msg });
        assert.equal(res!.headers.get("retry-after"), "1");
        assert.equal(res!.headers.get("connection"), "close");
        assert.ok(busy.closedByServer);
        const health = await rawExchange(
          capped.url,
          requestBytes("GET", "/healthz", { headers: { Connection: "close" } }),
        );
        assert.equal(parseResponses(health.text)[0]!.status, 200, health.text);
        const probe = await rawExchange(
          capped.url,
          requestBytes("GET", "/healthz?from=lb", { headers: { Connection: "close" } }),
        );
        assert.equal(parseResponses(probe.text)[0]!.status, 200, probe.text);
      } finally {
        for (const socket of held) socket.destroy();
      }
      // The server counts a connection closed once it sees the close: a moment after ours.
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
        status = (await call(capped.url, "GET", "/readyz")).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status, 200, "the server took requests again once connections closed");
    });
  });
}
