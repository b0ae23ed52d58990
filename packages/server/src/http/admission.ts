import type { RequestListener } from "node:http";

/**
 * Open connections from which a turn of the event loop starts one request, the rest waiting for
 * the next turns in order (issue 14, item 8). Below it, every request starts on the turn that
 * reads it.
 *
 * Node 20 (libuv 1.46) accepts ONE new connection per turn of the event loop (strace: one
 * accept4 after each epoll_wait, however many wait in the kernel's queue). At 1,000 busy
 * connections a turn served every request that had arrived, 40–50 ms of work, so connections
 * were accepted at about 20 a second: a load balancer's health check, which opens a new
 * connection, waited behind hundreds of others (4–5 s median, half the probes given up after
 * 10 s; test/soak.test.ts, docs/performance.md "Soak"). One request a turn keeps each turn short,
 * so new connections are accepted hundreds of times a second; the operations routes skip the
 * wait and are answered on the turn that reads them.
 *
 * Only when crowded: one request a turn at 50 connections cost 1.8× the CPU per login (`npm run
 * bench`, same rounds: every request paid a turn of its own, and the SQLite write queue's group
 * commits shrank to one login), and a time budget per turn (4 ms) let the soak's probes time out
 * again, because a turn's work is mostly the completions of earlier requests, which no budget at
 * the door bounds. A few hundred connections is where turns grew long enough to starve accepts.
 */
export const CROWDED_AT_CONNECTIONS = 256;

/** Routes answered at once, whatever waits: cheap, and what a load balancer or a scraper asks. */
const SKIP_THE_WAIT = new Set(["/healthz", "/readyz", "/metrics"]);

export function withAdmission(
  listener: RequestListener,
  openConnections: () => number,
  crowdedAt = CROWDED_AT_CONNECTIONS,
): RequestListener {
  let startedThisTurn = 0;
  // A FIFO: pushed at the end, taken from `head` (shift() would copy the array each time).
  let waiting: Array<() => void> = [];
  let head = 0;
  let turnScheduled = false;

  const mayStart = () => startedThisTurn === 0 || openConnections() < crowdedAt;

  /** A new turn: the budget is whole again, and the requests waiting start first. */
  const nextTurn = () => {
    turnScheduled = false;
    startedThisTurn = 0;
    while (head < waiting.length && mayStart()) {
      const start = waiting[head]!;
      waiting[head++] = noop;
      startedThisTurn++;
      start();
    }
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    } else {
      scheduleTurn();
    }
  };
  const scheduleTurn = () => {
    if (turnScheduled) return;
    turnScheduled = true;
    // setImmediate runs after this turn's I/O (accepts included), before the next one's.
    setImmediate(nextTurn);
  };

  return (request, response) => {
    if (SKIP_THE_WAIT.has(request.url ?? "")) return listener(request, response);
    if (head === waiting.length && mayStart()) {
      startedThisTurn++;
      scheduleTurn();
      return listener(request, response);
    }
    waiting.push(() => {
      // A client that went away while waiting has nothing to be answered.
      if (response.destroyed || request.socket.destroyed) return;
      listener(request, response);
    });
    scheduleTurn();
  };
}

function noop(): void {}
