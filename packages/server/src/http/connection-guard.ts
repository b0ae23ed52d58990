import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * What a server does with its connections beyond what node:http does (issue 14, items 4, 5, 8):
 *
 * - **Deadlines.** A connection must deliver a whole request within the request timeout of
 *   opening (or of its previous answer plus the keep-alive time). node:http's own check runs
 *   every `connectionsCheckingInterval` (so up to a quarter late), and its timeout answer only
 *   ended our side: a client that never closed its own kept the server's socket open for good
 *   (300 silent clients, 300 descriptors still held; edge-connections.test.ts). One timer per
 *   connection fires on time, and `writeRawAnswer` destroys the socket a moment after the 408.
 * - **A cap.** Over `maxConnections` open connections, a request is answered 503 with
 *   `Connection: close` (the load balancer tries another instance) rather than queued; /healthz
 *   still answers, since the process is alive.
 * - **Pending answers.** A client error on a connection (bytes that do not parse after a valid
 *   request, say) waits for the answers already owed on it: the request that came first gets its
 *   own answer, never the junk's.
 */
export interface ConnectionLimits {
  /** A request must arrive whole within this of the connection opening (or going idle). */
  requestTimeoutMs: number;
  /** node:http's keep-alive: how long an idle connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** Open connections per process beyond which requests get 503; 0: no cap. */
  maxConnections: number;
}

/** Raw answers written on a socket: a timeout, a malformed request, the cap. */
export interface RawAnswer {
  status: number;
  reason: string;
  code: number;
  msg: string;
  headers?: Array<[string, string]>;
}

interface SocketState {
  /** Responses owed on this connection (requests taken, not yet answered or abandoned). */
  owed: number;
  /** The latest request taken, while its body is still arriving. */
  receiving: IncomingMessage | undefined;
  deadline: NodeJS.Timeout | undefined;
  overCap: boolean;
  /** Run once nothing is owed (a client error's answer). */
  whenSettled: (() => void) | undefined;
}

export class ConnectionGuard {
  #open = 0;
  readonly #states = new WeakMap<Socket, SocketState>();

  constructor(
    private readonly limits: ConnectionLimits,
    /** Called when a connection's deadline passes: answers 408 and closes (app.ts). */
    private readonly onDeadline: (socket: Socket) => void,
  ) {}

  /** Connections open now, on every server watched. */
  get open(): number {
    return this.#open;
  }

  /** Watches a server's connections (app.server and listen.ts's siblings). */
  watch(server: Server): void {
    server.on("connection", (socket: Socket) => this.#connected(socket));
  }

  #connected(socket: Socket): void {
    this.#open++;
    const state: SocketState = {
      owed: 0,
      receiving: undefined,
      deadline: undefined,
      overCap: this.limits.maxConnections > 0 && this.#open > this.limits.maxConnections,
      whenSettled: undefined,
    };
    this.#states.set(socket, state);
    this.#arm(socket, state, this.limits.requestTimeoutMs);
    socket.once("close", () => {
      this.#open--;
      clearTimeout(state.deadline);
      state.deadline = undefined;
    });
  }

  #arm(socket: Socket, state: SocketState, ms: number): void {
    clearTimeout(state.deadline);
    state.deadline = setTimeout(() => {
      state.deadline = undefined;
      // A request being answered is not the client's delay; one still sending its body is.
      if ((state.owed === 0 || isReceiving(state)) && !socket.destroyed) this.onDeadline(socket);
    }, ms);
    // Deadlines never hold the process open (a graceful stop closes the sockets).
    state.deadline.unref();
  }

  /**
   * Wraps the request listener: counts what each connection is owed, moves its deadline, and
   * answers over the cap. `busy` writes the 503 (app.ts, with the envelope).
   */
  wrap(
    listener: RequestListener,
    busy: (request: IncomingMessage, response: ServerResponse) => boolean,
  ): RequestListener {
    return (request, response) => {
      const state = this.#states.get(request.socket);
      // In-process requests (inject) have no watched socket.
      if (state === undefined) return void listener(request, response);
      state.owed++;
      clearTimeout(state.deadline);
      state.deadline = undefined;
      // The body still has the rest of the request timeout to arrive.
      if (!request.complete) {
        state.receiving = request;
        this.#arm(request.socket, state, this.limits.requestTimeoutMs);
        request.once("end", () => {
          if (state.receiving === request) state.receiving = undefined;
          if (state.owed > 0) {
            clearTimeout(state.deadline);
            state.deadline = undefined;
          }
        });
      }
      response.once("close", () => this.#answered(request, state));
      if (state.overCap && busy(request, response)) return;
      listener(request, response);
    };
  }

  #answered(request: IncomingMessage, state: SocketState): void {
    const { socket } = request;
    state.owed--;
    if (state.owed > 0 || socket.destroyed) return;
    const settled = state.whenSettled;
    if (settled !== undefined) {
      state.whenSettled = undefined;
      settled();
      return;
    }
    // Answered before its body arrived (a bad token): the body keeps its deadline. Otherwise idle:
    // the next request may take the keep-alive time to start, then the timeout.
    if (isReceiving(state)) return;
    this.#arm(socket, state, this.limits.keepAliveTimeoutMs + this.limits.requestTimeoutMs);
  }

  /** Runs `then` once the connection owes no answer (at once when it owes none). */
  afterOwedAnswers(socket: Socket, then: () => void): void {
    const state = this.#states.get(socket);
    if (state === undefined || state.owed === 0) {
      then();
      return;
    }
    // One client error per connection is answered; later ones (more junk) only wait.
    state.whenSettled ??= then;
  }

  /** Whether the connection's latest request is still sending its body. */
  receiving(socket: Socket): boolean {
    const state = this.#states.get(socket);
    return state !== undefined && isReceiving(state);
  }
}

/** Whether the latest request's body is still arriving (`complete` turns true as the parser ends it). */
function isReceiving(state: SocketState): boolean {
  return state.receiving !== undefined && !state.receiving.complete;
}

/** An HTTP/1.1 response written straight to a socket, then the connection is closed. */
export function writeRawAnswer(socket: Socket, answer: RawAnswer): void {
  const body = JSON.stringify({ code: answer.code, msg: answer.msg });
  let head = `HTTP/1.1 ${answer.status} ${answer.reason}\r\nContent-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n`;
  for (const [name, value] of answer.headers ?? []) head += `${name}: ${value}\r\n`;
  head += `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body);
  // A client that never closes its side would keep the socket half-open: it gets a moment to
  // read the answer, then the socket is destroyed.
  setTimeout(() => socket.destroy(), 1000).unref();
}
