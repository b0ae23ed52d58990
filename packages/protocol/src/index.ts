export { type ErrorDefinition, type ErrorEnvelope, type ErrorName, Errors } from "./errors.ts";
export * from "./ids.ts";
export * from "./wire.ts";
