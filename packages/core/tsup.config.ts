import { defineConfig } from "tsup";

export default defineConfig({
  // define.ts is its own entry: user configs import it (through jiti's alias)
  // without loading the rest of kaupang.
  entry: { index: "src/index.ts", define: "src/define.ts" },
  format: "esm",
  target: "node20",
  platform: "node",
  clean: true,
  dts: true,
  splitting: true,
  sourcemap: false,
  // Start-up time: Node loads one bundled file several times faster than the
  // hundreds of small modules these packages ship as (execa 90 → 25 ms, zod
  // 56 → 27 ms, yaml 33 → 13 ms measured here). jiti (only for TypeScript
  // configs) and undici (only behind a proxy) stay external and load lazily.
  noExternal: ["zod", "yaml", "execa", "shell-quote", "fastest-levenshtein"],
  // Bundled CommonJS (yaml, parts of execa's dependencies) still calls require().
  banner: {
    js: 'import { createRequire as __kaupangRequire } from "node:module";\nconst require = __kaupangRequire(import.meta.url);',
  },
});
