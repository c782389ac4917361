import { defineConfig, definePipeline } from "@kaupang/core";

// The flagship: a tiny Viking trading post. `saga` (a store) and `runes` (a
// cache) come from the file catalog; `market` builds its image from ./market,
// runs a one-shot migration, then starts web and worker in parallel.
export default defineConfig({
  environments: "./environments",
  project: "longhall",
  defaultBackend: "compose",
  dockerRepository: "127.0.0.1:5000/longhall",
  defaultPull: "missing",
  globalEnv: { TZ: "UTC" },
  catalog: { sources: [{ type: "file", path: "./catalog.json" }] },
  targets: {
    local: {},
    "vanaheim-swarm": {
      backend: "swarm",
      env: { REALM: "vanaheim" },
      // Host-mode ports and DNS round-robin work on every swarm, including
      // hosts whose kernel lacks IPVS (no routing mesh). Drop this line to use
      // swarm's ingress routing mesh and virtual IPs.
      swarm: { portMode: "host", endpointMode: "dnsrr" },
    },
    "asgard-k8s": {
      backend: "kubernetes",
      kubeContext: process.env.LONGHALL_KUBE_CONTEXT ?? "kaupang-a",
      kubeconfig: process.env.LONGHALL_KUBECONFIG ?? "./kubeconfig",
      env: { REALM: "asgard" },
    },
  },
  solutions: {
    "longhall-full": { version: "1.0.0", environments: ["market"], env: { JARL: "harald" } },
  },
  pipelines: {
    voyage: definePipeline({
      steps: {
        build: { build: "market", push: true },
        deploy: { up: "market", needs: "build" },
        health: { wait: { http: "http://127.0.0.1:18090/", timeout: "60s" }, needs: "deploy" },
        smoke: {
          run: "curl -fsS http://127.0.0.1:18090/ | grep -q 'market of the longhall'",
          needs: "health",
        },
      },
    }),
  },
});
