import { defineConfig } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "minimal",
  defaultBackend: "compose",
});
