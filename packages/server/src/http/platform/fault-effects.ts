import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { type FaultRule, latencyOf } from "../../test-tools/fault-rules.ts";

/** What the handler does next once a fault applied (before the endpoint's own work). */
export type FaultStep =
  /** Carry on (after the latency, if any). */
  | "continue"
  /** Do the work, then close the connection instead of answering. */
  | "commit_then_drop"
  /** Answer the rule's envelope instead of doing the work. */
  | "answer"
  /** Nothing more: the connection was closed, or is left without an answer. */
  | "ended";

/**
 * Requests a `timeout` fault left unanswered. They end when their caller gives up, or when the
 * server stops (app.ts closes them: a stop must not wait for an answer that never comes).
 */
export class HungResponses {
  readonly #open = new Set<ServerResponse>();

  add(response: ServerResponse): void {
    this.#open.add(response);
    response.once("close", () => this.#open.delete(response));
  }

  destroyAll(): void {
    for (const response of this.#open) response.destroy();
    this.#open.clear();
  }
}

/** Applies the part of a fault that comes before the endpoint's work. */
export async function faultStep(
  rule: FaultRule,
  request: IncomingMessage,
  response: ServerResponse,
  hung: HungResponses,
): Promise<FaultStep> {
  const { effect } = rule;
  switch (effect.type) {
    case "latency":
      await sleep(latencyOf(effect));
      return "continue";
    case "answer":
      return "answer";
    case "drop":
      request.socket.destroy();
      return "ended";
    case "timeout":
      hung.add(response);
      return "ended";
    case "commit_then_drop":
      return "commit_then_drop";
  }
}
