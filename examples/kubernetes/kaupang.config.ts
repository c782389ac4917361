import { defineConfig } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "kube-example", // also the namespace, unless a target sets `namespace`
  targets: {
    local: {}, // the same environment on your machine, with docker compose
    prod: {
      backend: "kubernetes",
      kubeContext: process.env.KUBE_EXAMPLE_CONTEXT ?? "kaupang-a", // → kubectl --context …
      kubeconfig: process.env.KUBE_EXAMPLE_KUBECONFIG ?? "./kubeconfig", // → KUBECONFIG for the run
      pull: "missing",
      env: { APP_ENV: "production" },
    },
  },
});
