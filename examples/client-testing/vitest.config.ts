import { defineConfig } from "vitest/config";

// Only this runner's file: Vitest's default pattern would also pick up the node:test and Jest
// files of this folder, which fail outside their own runners.
export default defineConfig({ test: { include: ["*.vitest.ts"] } });
