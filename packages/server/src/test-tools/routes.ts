import type { FastifyInstance, FastifyReply } from "fastify";
import { ManualClock } from "../clock.ts";
import { ApiError } from "../domain/errors.ts";
import { adminRouteFor } from "../http/openapi.ts";
import type { FaultRuleInput } from "./fault-rules.ts";
import type { JournalFilter } from "./journal.ts";
import { ToolSchemas as S } from "./schemas.ts";
import type { TestTools } from "./tools.ts";

const route = adminRouteFor(["test tools"]);

const clockView = (tools: TestTools) => {
  const now = tools.clock.now();
  return { now_ms: now, now: new Date(now).toISOString(), manual: tools.clock instanceof ManualClock };
};

/**
 * Fault rules, the clock and the request journal under /admin/v1 (docs/testing-your-backend.md).
 * Registered inside the admin scope, so behind the admin token like the rest.
 */
export function registerTestToolRoutes(admin: FastifyInstance, tools: TestTools): void {
  admin.post<{ Body: FaultRuleInput }>(
    "/faults",
    route(
      "Add a fault rule: matching platform requests get its effect (answer, latency, drop, timeout, commit_then_drop)",
      { body: S.faultBody },
      { status: 201, response: S.rule },
    ),
    async (request, reply: FastifyReply) => reply.code(201).send(await tools.faults.add(request.body)),
  );
  admin.get("/faults", route("List the fault rules in force", {}, { response: S.rules }), async () => ({
    faults: await tools.faults.list(),
  }));
  admin.delete<{ Params: { fault_id: string } }>(
    "/faults/:fault_id",
    route("Delete a fault rule", { params: S.faultParams }, { response: S.deleted }),
    async (request) => {
      if (!(await tools.faults.remove(request.params.fault_id)))
        throw new ApiError("AdminNotFound", `fault ${request.params.fault_id}`);
      return { deleted: true };
    },
  );
  admin.delete("/faults", route("Delete every fault rule", {}, { response: S.cleared }), async () => ({
    cleared: await tools.faults.clear(),
  }));

  admin.get("/clock", route("The server's clock", {}, { response: S.clock }), async () => clockView(tools));
  admin.post<{ Body: { advance_ms: number } | { set: number } }>(
    "/clock",
    route(
      "Move a manual clock (--clock manual): {advance_ms} or {set}; every lifetime follows it",
      { body: S.clockBody },
      { errors: [409], response: S.clock },
    ),
    async (request) => {
      const { clock } = tools;
      if (!(clock instanceof ManualClock)) {
        throw new ApiError(
          "AdminToolOff",
          "the server runs on the system clock: start it with --clock manual",
        );
      }
      const body = request.body;
      if ("set" in body) clock.set(body.set);
      else clock.advance(body.advance_ms);
      return clockView(tools);
    },
  );

  admin.post<{ Params: { session_id: string } }>(
    "/sessions/:session_id/expire-access-token",
    route(
      "Expire a session's access token now: its next use answers the platform's expired code; the refresh token still works",
      { params: S.expireSessionParams },
      { errors: [404], response: S.expiredSession },
    ),
    async (request) => tools.expireNow.session(request.params.session_id),
  );
  admin.post<{ Params: { app_id: string }; Body: { kind?: "app" | "tenant" } | undefined }>(
    "/apps/:app_id/expire-tokens",
    route(
      "Expire an app's live app and tenant tokens now (or one kind): their next use answers the platform's expired code",
      { params: S.expireAppParams, body: S.expireAppBody },
      { errors: [404], response: S.expiredAppTokens },
    ),
    async (request) => tools.expireNow.appTokensOf(request.params.app_id, request.body?.kind),
  );

  admin.get<{ Querystring: Record<string, string | undefined> }>(
    "/journal",
    route(
      "The last platform requests (secrets redacted), oldest first, filtered",
      { querystring: S.journalQuery },
      { errors: [409], response: S.journal },
    ),
    async (request) => {
      const { journal } = tools;
      if (journal === undefined) {
        throw new ApiError("AdminToolOff", "the journal is off: start the server with --journal N");
      }
      return {
        entries: journal.query(journalFilter(request.query)),
        last_seq: journal.lastSeq,
        capacity: journal.capacity,
      };
    },
  );
  admin.delete("/journal", route("Empty the journal", {}, { response: S.cleared }), async () => {
    const cleared = tools.journal?.query().length ?? 0;
    tools.journal?.clear();
    return { cleared };
  });
}

/** The query, whose numbers the schema already checked as digits. */
function journalFilter(query: Record<string, string | undefined>): JournalFilter {
  const filter: JournalFilter = {};
  if (query.route !== undefined) filter.route = query.route;
  if (query.app_id !== undefined) filter.app_id = query.app_id;
  if (query.fault !== undefined) filter.fault = query.fault;
  for (const name of ["status", "code", "since", "limit"] as const) {
    const value = query[name];
    if (value !== undefined) filter[name] = Number(value);
  }
  return filter;
}
