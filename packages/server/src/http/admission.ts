import type { RequestListener } from "node:http";

/**
 * Requests started per turn of the event loop; the rest wait for the next turns, in order
 * (issue 14, item 8).
 *
 * Node 20 (libuv 1.46) accepts ONE new connection per turn of the event loop (strace: one
 * accept4 after each epoll_wait, however many wait in the kernel's queue). At 1,000 busy
 * connections a turn served every request that had arrived, 40–50 ms of work, so connections
 * were accepted at about 20 a second: a load balancer's health check, which opens a new
 * connection, waited behind hundreds of others (4–5 s median, half the probes given up after
 * 10 s; test/soak.test.ts, docs/performance.md "Soak"). Starting at most `perTurn` requests a
 * turn keeps each turn short, so new connections are accepted hundreds of times a second; the
 * operations routes skip the wait and are answered on the turn that reads them. One a turn beat
 * two (probes' slowest 0.48 s against 3.4 s, throughput no lower; docs/performance.md "Soak").
 */
export const REQUESTS_PER_TURN = 1;

/** Routes answered at once, whatever waits: cheap, and what a load balancer or a scraper asks. */
const SKIP_THE_WAIT = new Set(["/healthz", "/readyz", "/metrics"]);

export function withAdmission(listener: RequestListener, perTurn = REQUESTS_PER_TURN): RequestListener {
  let startedThisTurn = 0;
  // A FIFO: pushed at the end, taken from `head` (shift() would copy the array each time).
  let waiting: Array<() => void> = [];
  let head = 0;
  let turnScheduled = false;

  /** A new turn: the budget is whole again, and the requests waiting start first. */
  const nextTurn = () => {
    turnScheduled = false;
    startedThisTurn = 0;
    while (startedThisTurn < perTurn && head < waiting.length) {
      const start = waiting[head]!;
      waiting[head++] = noop;
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
    const url = request.url ?? "";
    const query = url.indexOf("?");
    if (SKIP_THE_WAIT.has(query === -1 ? url : url.slice(0, query))) return listener(request, response);
    if (startedThisTurn < perTurn && head === waiting.length) {
      startedThisTurn++;
      scheduleTurn();
      return listener(request, response);
    }
    waiting.push(() => {
      // A client that went away while waiting has nothing to be answered.
      if (response.destroyed || request.socket.destroyed) return;
      startedThisTurn++;
      listener(request, response);
    });
    scheduleTurn();
  };
}

function noop(): void {}
