import dns, { type LookupAddress } from "node:dns";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";

export interface Listening {
  /** Every address and port the app answers on. */
  addresses: AddressInfo[];
  /** Stops the servers besides `app.server` (which `app.close()` stops), letting requests finish. */
  closeSiblings(): Promise<void>;
}

/**
 * Listens like fastify does, `localhost` included: fastify binds every address a `localhost`
 * resolves to (127.0.0.1 and ::1, say), but only with servers it makes itself, and ours comes
 * from a serverFactory (app.ts). So the other addresses get sibling servers here, on the same
 * port and with the same request listener; one that cannot bind is skipped, as fastify does.
 */
/**
 * Connections the kernel holds for accept(). Node's default, 511, overflowed when 1,000 clients
 * connected at once: the kernel dropped the rest's handshakes, and a health check opened then
 * waited for the client's SYN retries (1 s, 3 s, 7 s…). Linux caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4096;

export async function listenApp(app: FastifyInstance, host: string, port: number): Promise<Listening> {
  await app.listen({ host, port, backlog: LISTEN_BACKLOG });
  const main = app.server.address() as AddressInfo;
  const siblings: Server[] = [];
  if (host === "localhost") {
    const resolved = await new Promise<LookupAddress[]>((resolve) =>
      dns.lookup(host, { all: true }, (error, found) => resolve(error ? [] : found)),
    );
    for (const { address } of resolved) {
      if (address === main.address) continue;
      const server = app.newServer();
      const bound = await new Promise<boolean>((resolve) => {
        server.once("error", () => resolve(false));
        server.listen(main.port, address, LISTEN_BACKLOG, () => resolve(true));
      });
      if (bound) siblings.push(server);
    }
  }
  return {
    addresses: [main, ...siblings.map((s) => s.address() as AddressInfo)],
    closeSiblings: async () => {
      await Promise.all(
        siblings.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeIdleConnections();
            }),
        ),
      );
    },
  };
}
