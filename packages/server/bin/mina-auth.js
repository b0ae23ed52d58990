#!/usr/bin/env node
// Runs the built CLI; `npm install` builds it (the workspace's prepare script).
import { existsSync } from "node:fs";

const built = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(built)) {
  process.stderr.write("mina-auth: not built yet; run `npm run build` from the repository root\n");
  process.exit(2);
}
await import(built.href);
