import type { RouteOptions } from "fastify";
import type { AnswerShape, Endpoint } from "./platform/endpoints.ts";
import type { BodyRule } from "./platform/schemas.ts";

/** What a fastify route tells /openapi.json beside its validation schemas. */
export interface RouteDoc {
  summary: string;
  tags: string[];
  security?: "admin";
  /** The success status (default 200). */
  status?: 200 | 201;
  /** The statuses of `{code, msg}` errors the route answers besides the common ones. */
  errors?: number[];
  /** The success reply's schema, when the route has no response schema to serialize with. */
  response?: object;
  /** The request body, for routes whose body the domain checks as a seed-file entry. */
  body?: object;
  /** A success reply that is not JSON. */
  contentType?: string;
}

/** A route's validation schemas and its entry, behind the admin token, in /openapi.json. */
export function adminRouteFor(tags: string[]) {
  return (
    summary: string,
    schema: { body?: object; params?: object; querystring?: object },
    doc: Omit<RouteDoc, "summary" | "tags" | "security"> = {},
  ) => ({ schema, config: { doc: { summary, tags, security: "admin" as const, ...doc } } });
}

declare module "fastify" {
  interface FastifyContextConfig {
    doc?: RouteDoc;
  }
}

interface RouteSchema {
  body?: object;
  params?: { properties?: Record<string, object> };
  querystring?: { properties?: Record<string, object>; required?: string[] };
  response?: Record<string, object>;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "bad request: 9499 (not JSON), 9400 (admin: a field, named in msg), 99991661/99991668 (user_info)",
  401: "9401: admin token missing or invalid",
  404: "not found: 9404 (admin), 99991201 (unknown path)",
  408: "9408: the request was not sent in time",
  409: "9409: already exists; 9412: a test tool this server was started without",
  413: "9413: body over 64 KiB",
  415: "9415: not application/json",
  429: "99991400: rate limited (x-ogw-ratelimit-limit and x-ogw-ratelimit-reset headers)",
  500: "9500: a bug, logged with its request id",
  503: "storage does not answer",
};

const errorResponse = (status: number) => ({
  description: ERROR_DESCRIPTIONS[status] ?? "error",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

type Operation = Record<string, unknown>;

/** The body rules as one schema: the rule itself, or all of them in their order. */
function requestSchema(rules: BodyRule[]): object {
  const described = rules.map((rule) => ({ ...rule.schema, description: rule.description }));
  return described.length === 1 ? described[0]! : { allOf: described };
}

/** `/admin/v1/apps/:app_id/secret` → `/admin/v1/apps/{app_id}/secret` */
const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, "{$1}");

/** `POST /admin/v1/apps/:app_id/secret` → `postAppsAppIdSecret`: unique per route, stable. */
function operationIdOf(method: string, url: string): string {
  const words = url
    .replace(/^\/admin\/v1/, "")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

function responses(
  success: number,
  successSchema: object | undefined,
  errors: number[],
  type = "application/json",
) {
  const out: Record<string, object> = {
    [String(success)]: {
      description: "success",
      ...(successSchema ? { content: { [type]: { schema: successSchema } } } : {}),
    },
  };
  for (const status of [...new Set(errors)].sort()) out[String(status)] = errorResponse(status);
  return out;
}

/** An endpoint with its own answer shape (the v2 token endpoint): its own failure schema. */
function shapedResponses(success: object, shape: AnswerShape) {
  const out: Record<string, object> = {
    "200": { description: "success", content: { "application/json": { schema: success } } },
  };
  for (const status of [...new Set(shape.errorStatuses)].sort()) {
    out[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? "error",
      content: { "application/json": { schema: shape.errorSchema } },
    };
  }
  return out;
}

/**
 * Builds the OpenAPI 3.1 document from what serves the requests: the platform endpoint table
 * (its body rules are the request schemas) and the fastify routes as they register (their
 * validation schemas). No hand-kept copy; test/openapi-lint.test.ts runs `redocly lint` on it.
 */
export class OpenApiCollector {
  private readonly paths: Record<string, Record<string, Operation>> = {};

  constructor(platform: Endpoint[]) {
    for (const endpoint of platform) {
      const operation: Operation = {
        operationId: endpoint.operationId,
        summary: endpoint.summary,
        tags: ["platform"],
        // Platform failures answer HTTP 200 with a non-zero code, as the platform does.
        description:
          "Failures answer `{code, msg}` with HTTP 200 unless listed below (see the README's error table).",
        security:
          endpoint.auth.kind === "app"
            ? [{ appBearer: [] }]
            : endpoint.auth.kind === "user"
              ? [{ userBearer: [] }]
              : [],
        responses: endpoint.shape
          ? shapedResponses(endpoint.response, endpoint.shape)
          : responses(
              200,
              // As on the platform, its failures answer HTTP 200 too, with a non-zero code.
              { anyOf: [endpoint.response, { $ref: "#/components/schemas/Error" }] },
              endpoint.method === "POST" ? [400, 408, 413, 415, 429, 500] : [400, 408, 500],
            ),
      };
      if (endpoint.shape) {
        operation.description =
          "Failures answer `{code, error, error_description}` with the statuses listed below (see the README's error table).";
      }
      if (endpoint.body) {
        operation.requestBody = {
          required: true,
          content: {
            "application/json": {
              schema: requestSchema(endpoint.body),
            },
          },
        };
      }
      this.operations(endpoint.path)[endpoint.method.toLowerCase()] = operation;
    }
  }

  private operations(path: string): Record<string, Operation> {
    this.paths[path] ??= {};
    return this.paths[path];
  }

  add(route: RouteOptions): void {
    const doc = (route.config as { doc?: RouteDoc } | undefined)?.doc;
    if (!doc) return;
    const schema = (route.schema ?? {}) as RouteSchema;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pathParams = [...route.url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
    const parameters = [
      ...pathParams.map((name) => ({
        name,
        in: "path",
        required: true,
        schema: schema.params?.properties?.[name] ?? { type: "string" },
      })),
      ...Object.entries(schema.querystring?.properties ?? {}).map(([name, property]) => ({
        name,
        in: "query",
        required: schema.querystring?.required?.includes(name) ?? false,
        schema: property,
      })),
    ];
    const success = doc.status ?? 200;
    const body = schema.body ?? doc.body;
    for (const method of methods) {
      if (method === "HEAD") continue;
      const errors = [...(doc.errors ?? []), 500];
      if (doc.security === "admin") errors.push(401);
      if (body) errors.push(400, 413, 415);
      if (parameters.length > 0) errors.push(400);
      if (pathParams.length > 0) errors.push(404);
      const operation: Operation = {
        operationId: operationIdOf(method, route.url),
        summary: doc.summary,
        tags: doc.tags,
        security: doc.security ? [{ [`${doc.security}Bearer`]: [] }] : [],
        responses: responses(
          success,
          doc.response ?? schema.response?.[String(success)],
          errors,
          doc.contentType,
        ),
      };
      if (parameters.length > 0) operation.parameters = parameters;
      if (body) operation.requestBody = { required: true, content: { "application/json": { schema: body } } };
      this.operations(openApiPath(route.url))[method.toLowerCase()] = operation;
    }
  }

  document(version: string, serverUrl: string): object {
    return {
      openapi: "3.1.0",
      info: {
        title: "mina-auth",
        version,
        description: "Feishu / Lark mini-program login (tokenLoginValidate) and the endpoints around it.",
        license: { name: "MIT", identifier: "MIT" },
      },
      servers: [{ url: serverUrl, description: "this server" }],
      tags: [
        { name: "platform", description: "The platform's own paths, envelopes and codes" },
        { name: "admin", description: "mina-auth's admin API (tenants, users, apps, codes, sessions)" },
        { name: "operations", description: "Health, readiness, metrics and this document" },
      ],
      paths: this.paths,
      components: {
        securitySchemes: {
          appBearer: {
            type: "http",
            scheme: "bearer",
            description: "app_access_token or tenant_access_token (t-…)",
          },
          userBearer: { type: "http", scheme: "bearer", description: "user_access_token (u-…)" },
          adminBearer: { type: "http", scheme: "bearer", description: "the admin token" },
        },
        schemas: {
          Error: {
            type: "object",
            required: ["code", "msg"],
            properties: { code: { type: "integer" }, msg: { type: "string" } },
          },
        },
      },
    };
  }
}
