import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts" },
  format: "esm",
  target: "node20",
  platform: "node",
  clean: false,
  dts: true,
  sourcemap: false,
  external: ["@kaupang/core"],
});
