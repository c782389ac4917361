import { defineConfig, definePipeline } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "pipeline-example",
  defaultBackend: "compose",
  targets: {
    local: {},
    swarm: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" } },
  },
  pipelines: {
    // build → deploy → health → smoke → announce; `kaupang run release --dry-run` prints the waves.
    release: definePipeline({
      steps: {
        build: { build: "web", push: true },
        deploy: { up: "web", needs: "build" },
        health: {
          wait: { http: "http://127.0.0.1:18087/", status: 200, interval: "1s", timeout: "60s" },
          needs: "deploy",
        },
        smoke: {
          run: "curl -fsS http://127.0.0.1:18087/ | grep -q 'Released by the pipeline example'",
          needs: "health",
        },
        // `run` as a command, or { run, cwd, env } as hooks are written:
        announce: { run: { run: "echo released $WHAT", env: { WHAT: "web" } }, needs: "smoke" },
      },
    }),
    teardown: definePipeline({
      steps: { down: { down: "web" } },
    }),
  },
});
