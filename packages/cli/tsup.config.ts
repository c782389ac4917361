import { defineConfig } from "tsup";

export default defineConfig({
  entry: { cli: "src/cli.ts" },
  format: "esm",
  target: "node20",
  platform: "node",
  clean: true,
  dts: false,
  sourcemap: false,
  external: ["@kaupang/core"],
  // commander bundled: one ESM file instead of Node's CommonJS loader and its
  // export scan on every start (~5 ms).
  noExternal: ["commander"],
  // Bundled CommonJS (commander) still calls require() for Node's built-ins.
  banner: {
    js: 'import { createRequire as __kaupangRequire } from "node:module";\nconst require = __kaupangRequire(import.meta.url);',
  },
});
