import { defineConfig } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "migrations",
  defaultBackend: "compose",
  targets: {
    local: {},
    swarm: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" } },
  },
});
