// Jest runs the TypeScript example as ES modules: Babel strips the types, Node's VM modules
// (NODE_OPTIONS=--experimental-vm-modules) load it.
export default {
  testMatch: ["<rootDir>/jest/**/*.spec.ts"],
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  transform: { "\\.ts$": ["babel-jest", { presets: ["@babel/preset-typescript"] }] },
};
