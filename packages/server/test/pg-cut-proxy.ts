/**
 * A TCP proxy between mina-auth and PostgreSQL that can cut a connection at the worst moment:
 * right after it forwarded a commit (PostgreSQL commits, the reply is lost), or instead of
 * forwarding it (nothing commits). It reads the frontend protocol message by message:
 *
 * - a transaction's commit is a simple Query ('Q') `COMMIT` (what `pg` sends for
 *   `client.query("COMMIT")`);
 * - the exchange batch is one statement outside a transaction, in the extended protocol:
 *   Parse (once per connection), Bind ('B', naming the prepared statement), Describe, Execute,
 *   then Sync ('S'), at which PostgreSQL commits the implicit transaction. So its commit point
 *   is the Sync after a Bind of that statement.
 *
 * It can also refuse new connections, or accept them and never answer (a connect timeout).
 */
import { createServer, type Server, Socket } from "node:net";
import { EXCHANGE_BATCH_STATEMENT } from "../src/storage/postgres/flow.ts";

export type CutAt = "commit" | "batch";
export type CutAction = "after" | "instead";
export type NewConnections = "forward" | "refuse" | "hold";

export interface CutProxy {
  /** `postgres://…` of the proxy, for the database `targetUrl` names. */
  url: string;
  /**
   * Cuts the next connection that reaches `at`, once: `after` forwarding it, or `instead`.
   * With `thenRefuse`, that moment also drops every other connection and refuses new ones
   * (PostgreSQL unreachable for the read-back) until `newConnections("forward")`.
   */
  arm(at: CutAt, action: CutAction, options?: { thenRefuse?: boolean }): void;
  /** Resolves once the armed cut happened; rejects when it has not within 20 s. */
  cut(): Promise<void>;
  /** What happens to connections opened from now on; `refuse` and `hold` drop the open ones. */
  newConnections(mode: NewConnections): void;
  close(): Promise<void>;
}

// Named from the source, so a new version of the statement cannot leave the proxy blind to it.
const BATCH_STATEMENT = Buffer.from(`${EXCHANGE_BATCH_STATEMENT}\0`);
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export async function startCutProxy(targetUrl: string): Promise<CutProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port || 5432);
  let armed: { at: CutAt; action: CutAction; thenRefuse: boolean } | null = null;
  let onCut: (() => void) | null = null;
  let cutDone: Promise<void> = Promise.resolve();
  let mode: NewConnections = "forward";
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (mode === "refuse") {
      client.destroy();
      return;
    }
    if (mode === "hold") return;
    const upstream = new Socket();
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    // Messages are forwarded one by one: without this, Nagle's algorithm holds each small
    // write back for the previous one's ACK, and every round trip takes tens of milliseconds.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    upstream.connect(targetPort, target.hostname);
    upstream.pipe(client);
    upstream.on("end", () => client.end());

    let buffered = Buffer.alloc(0);
    let startup = true;
    let waitingForSync = false;
    let finished = false;

    const cutNow = (forward: Buffer | null, thenRefuse: boolean) => {
      finished = true;
      if (thenRefuse) {
        mode = "refuse";
        for (const socket of sockets) if (socket !== client && socket !== upstream) socket.destroy();
      }
      // End our side after the bytes: PostgreSQL reads them, runs them, then sees the end.
      if (forward) upstream.end(forward);
      else upstream.destroy();
      client.destroy();
      const done = onCut;
      onCut = null;
      done?.();
    };

    client.on("data", (chunk: Buffer) => {
      if (finished) return;
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (startup) {
          if (buffered.length < 8) return;
          const length = buffered.readInt32BE(0);
          if (buffered.length < length) return;
          const message = buffered.subarray(0, length);
          buffered = buffered.subarray(length);
          const code = message.readInt32BE(4);
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) startup = false;
          upstream.write(message);
          continue;
        }
        if (buffered.length < 5) return;
        const length = buffered.readInt32BE(1) + 1;
        if (buffered.length < length) return;
        const message = buffered.subarray(0, length);
        buffered = buffered.subarray(length);
        const type = String.fromCharCode(message[0]!);
        const body = message.subarray(5);
        if (armed?.at === "commit" && type === "Q" && /^\s*COMMIT\s*;?\s*\0?$/i.test(body.toString())) {
          const { action, thenRefuse } = armed;
          armed = null;
          cutNow(action === "after" ? message : null, thenRefuse);
          return;
        }
        if (armed?.at === "batch" && type === "B" && body.includes(BATCH_STATEMENT)) waitingForSync = true;
        if (waitingForSync && type === "S" && armed) {
          const { action, thenRefuse } = armed;
          armed = null;
          cutNow(action === "after" ? message : null, thenRefuse);
          return;
        }
        upstream.write(message);
      }
    });
    client.on("end", () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy: no port");
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String(address.port);

  return {
    url: url.toString(),
    arm(at, action, options = {}) {
      armed = { at, action, thenRefuse: options.thenRefuse ?? false };
      cutDone = new Promise((resolve) => {
        onCut = resolve;
      });
    },
    // Bounded: a proxy that never sees its moment (a renamed statement, say) fails the test
    // instead of hanging the suite.
    cut: () =>
      Promise.race([
        cutDone,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the armed cut never happened within 20 s")), 20_000).unref(),
        ),
      ]),
    newConnections(next) {
      mode = next;
      if (next !== "forward") for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
