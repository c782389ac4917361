import { defineConfig } from "tsup";

export default defineConfig([
  {
    // define.ts is its own entry: user configs import it (through jiti's alias)
    // without loading the rest of kaupang.
    entry: { index: "src/index.ts", define: "src/define.ts" },
    format: "esm",
    target: "node20",
    platform: "node",
    clean: ["*.js", "*.d.ts"],
    dts: true,
    splitting: true,
    sourcemap: false,
    // Start-up time: Node loads one bundled file several times faster than
    // the hundreds of small modules these packages ship as (zod 56 → 27 ms
    // measured here). zod is imported as a namespace (`import * as z`), so
    // the bundle keeps only the parts kaupang uses (not its ~45 message
    // locales or its JSON Schema reader): 750 → 260 kB. jiti (only for
    // TypeScript configs) and undici (only behind a proxy) stay external and
    // load lazily; so does the YAML reader (below).
    noExternal: ["zod", "shell-quote", "fastest-levenshtein"],
    external: ["yaml"],
    banner: {
      js: 'import { createRequire as __kaupangRequire } from "node:module";\nconst require = __kaupangRequire(import.meta.url);',
    },
  },
  {
    // The YAML reader, bundled on its own (CommonJS, so it can be required on
    // first use from synchronous code): only artifacts this process did not
    // render are parsed, and the other commands do not pay for compiling it.
    entry: { "yaml-reader": "src/render/yaml-reader.ts" },
    format: "cjs",
    target: "node20",
    platform: "node",
    clean: ["*.cjs"],
    dts: false,
    sourcemap: false,
    noExternal: ["yaml"],
  },
]);
