import { defineConfig } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "presets",
  defaultBackend: "compose",
  // Earlier sources win a name clash. The same presets can come from an
  // internal endpoint ({ type: "http", url }), a catalog service
  // ({ type: "service", url, headers }) or an OCI artifact ({ type: "oci", ref }).
  catalog: { sources: [{ type: "file", path: "./catalog.json" }] },
});
