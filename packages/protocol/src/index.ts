export {
  type ErrorDefinition,
  type ErrorEnvelope,
  type ErrorName,
  Errors,
  PlatformOnlyCodes,
} from "./errors.ts";
export * from "./ids.ts";
export * from "./oauth-wire.ts";
export * from "./wire.ts";
