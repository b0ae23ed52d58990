import type { RouteOptions } from "fastify";

/** What a route tells /openapi.json about itself, beside any validation schema it has. */
export interface RouteDoc {
  summary: string;
  tags: string[];
  /** JSON schema of the body, for routes that validate it themselves (platform codes). */
  body?: object;
  /** JSON schema of the success reply. */
  response?: object;
  security?: "app" | "user" | "admin";
}

declare module "fastify" {
  interface FastifyContextConfig {
    doc?: RouteDoc;
  }
}

interface Operation {
  summary: string;
  tags: string[];
  security?: Array<Record<string, string[]>>;
  requestBody?: object;
  responses: Record<string, object>;
}

/** Builds the OpenAPI 3.1 document from the routes as they register: no hand-kept copy. */
export class OpenApiCollector {
  private readonly paths: Record<string, Record<string, Operation>> = {};

  add(route: RouteOptions): void {
    const doc = (route.config as { doc?: RouteDoc } | undefined)?.doc;
    if (!doc) return;
    const path = route.url.replace(/:([A-Za-z_]+)/g, "{$1}");
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const schema = route.schema as { body?: object; response?: Record<string, object> } | undefined;
    const body = schema?.body ?? doc.body;
    const success = doc.response ?? schema?.response?.["200"] ?? schema?.response?.["201"];
    for (const method of methods) {
      if (method === "HEAD") continue;
      const operation: Operation = {
        summary: doc.summary,
        tags: doc.tags,
        responses: {
          [schema?.response?.["201"] ? "201" : "200"]: {
            description: "success; platform errors also answer 200 where the platform does",
            ...(success ? { content: { "application/json": { schema: success } } } : {}),
          },
          default: {
            description: "an error: {code, msg} (see the README's error table)",
            content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
          },
        },
      };
      if (doc.security) operation.security = [{ [`${doc.security}Bearer`]: [] }];
      if (body) operation.requestBody = { required: true, content: { "application/json": { schema: body } } };
      this.paths[path] ??= {};
      this.paths[path][method.toLowerCase()] = operation;
    }
  }

  document(version: string): object {
    return {
      openapi: "3.1.0",
      info: {
        title: "mina-auth",
        version,
        description: "Feishu / Lark mini-program login (tokenLoginValidate) and the endpoints around it.",
      },
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
