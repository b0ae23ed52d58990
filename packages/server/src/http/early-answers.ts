import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/**
 * Connections whose current request was answered before its body had arrived: a bad app token
 * is answered at once, whatever the body. If that body then never completes, the request times
 * out, and Node asks for a timeout answer on a connection that already has its answer; writing
 * one would be a second, unsolicited response. The timeout handler only closes such
 * connections. A request whose body does complete leaves the set again.
 */
export class EarlyAnswers {
  readonly #sockets = new WeakSet<Socket>();

  /** Called as a request is answered. */
  note(request: IncomingMessage): void {
    if (request.complete) return;
    const socket = request.socket;
    this.#sockets.add(socket);
    request.once("end", () => this.#sockets.delete(socket));
  }

  has(socket: Socket): boolean {
    return this.#sockets.has(socket);
  }
}
