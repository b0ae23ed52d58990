import { defineConfig } from "vite";

// Built to static files that the server serves at /console/ (packages/server/src/http/console-static.ts).
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The server's CSP allows scripts and styles from its own origin only: nothing inline.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
});
