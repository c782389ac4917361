import { dirname, join } from "node:path";
import { defineConfig } from "tsup";

/**
 * zod re-exports all ~45 of its message locales (~320 kB, a quarter of the
 * bundle, parsed on every start); kaupang only ever uses English. The
 * locales index resolves to English alone.
 */
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(build: import("esbuild").PluginBuild) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes("/node_modules/zod/")
        ? { path: join(dirname(args.importer), args.path), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from "./en.js";`,
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

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
    // measured here). jiti (only for TypeScript configs) and undici (only
    // behind a proxy) stay external and load lazily; so does the YAML reader
    // (below).
    noExternal: ["zod", "shell-quote", "fastest-levenshtein"],
    external: ["yaml"],
    esbuildPlugins: [zodEnglishOnly],
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
