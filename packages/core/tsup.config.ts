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
});
