#!/usr/bin/env node
// Run after tsc (the client's `npm run build` and the root build do): puts the compiled protocol
// package (paths, error codes, wire types) inside the client's dist, at dist/internal/protocol/,
// and points the client's own imports of it there. The client's source imports the protocol like
// any package, so there is one source of truth; the published client still installs with zero
// runtime dependencies, and neither its JS nor its .d.ts names a package its users do not have.
// Idempotent: tsc re-emits only what changed, and this rewrites only what still names the package.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE = "@mina-auth/protocol";
const clientDist = fileURLToPath(new URL("../dist/", import.meta.url));
const protocolDist = fileURLToPath(new URL("../../protocol/dist/", import.meta.url));
const inlined = join(clientDist, "internal", "protocol");

/** Compiled modules and their declarations: no tests, maps or build info. */
const shipped = (name) => /\.(?:js|d\.ts)$/.test(name) && !name.includes(".test.");

rmSync(inlined, { recursive: true, force: true });
mkdirSync(inlined, { recursive: true });
for (const name of readdirSync(protocolDist)) {
  if (!shipped(name)) continue;
  // The protocol's source maps stay behind (their sources are not in the tarball): drop the link.
  const text = readFileSync(join(protocolDist, name), "utf8").replace(/^\/\/# sourceMappingURL=.*\n?/m, "");
  writeFileSync(join(inlined, name), text);
}

const specifier = new RegExp(`(["'])${PACKAGE.replace("/", "\\/")}\\1`, "g");
const stale = [];
for (const file of readdirSync(clientDist, { recursive: true, encoding: "utf8" })) {
  const path = join(clientDist, file);
  if (!shipped(file) || path.startsWith(inlined + sep)) continue;
  const text = readFileSync(path, "utf8");
  let target = relative(dirname(path), join(inlined, "index.js")).split(sep).join("/");
  if (!target.startsWith(".")) target = `./${target}`;
  const rewritten = text.replace(specifier, `"${target}"`);
  if (rewritten !== text) writeFileSync(path, rewritten);
  if (rewritten.includes(PACKAGE)) stale.push(file);
}
if (stale.length > 0) {
  // A form of reference this script does not rewrite: fail the build rather than ship it.
  console.error(`inline-protocol: ${stale.join(", ")} still name ${PACKAGE}`);
  process.exit(1);
}
