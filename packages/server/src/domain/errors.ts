import { type ErrorDefinition, type ErrorName, Errors } from "@mina-auth/protocol";

/**
 * A failure the caller is meant to see, as `{code, msg}`. `detail` may refine the public msg
 * of the project's own codes (naming a field, say); platform codes keep the platform's msg
 * exactly. Neither ever carries a secret or request data beyond a field name.
 */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly definition: ErrorDefinition;
  readonly publicMsg: string;

  constructor(
    readonly errorName: ErrorName,
    detail?: string,
  ) {
    const definition = Errors[errorName];
    const publicMsg =
      detail && definition.origin === "ours" ? `${definition.msg}: ${detail}` : definition.msg;
    super(publicMsg);
    this.definition = definition;
    this.publicMsg = publicMsg;
  }
}
