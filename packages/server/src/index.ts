export { type Clock, ManualClock, systemClock } from "./clock.ts";
export { defaultConfig, type ServerConfig, validateConfig } from "./config.ts";
export { demoSeed } from "./demo-seed.ts";
export { loadSeed, type SeedFile, toSeedFile } from "./domain/seed.ts";
export { type AppDeps, type AppOptions, buildApp } from "./http/app.ts";
export { type RunningServer, type StartOptions, startServer } from "./server.ts";
export { openStorage } from "./storage/open.ts";
export type { Storage } from "./storage/port.ts";
