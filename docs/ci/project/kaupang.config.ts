import { defineConfig } from "@kaupang/core";

// The repository the CI recipes in docs/ci/ deploy: one environment, `api`,
// swarm staging and Kubernetes prod. Registry, contexts and the cache folder
// come from the pipeline's variables.
export default defineConfig({
  environments: "./environments",
  project: "hedeby",
  dockerRepository: process.env.REGISTRY ?? "midgardregistry.azurecr.io",
  // On a self-hosted agent point this at a persistent volume so the ledger
  // (and with it `rollback`) survives between runs.
  cacheDir: process.env.KAUPANG_CACHE_DIR ?? ".kaupang",
  targets: {
    local: {},
    staging: {
      backend: "swarm",
      // The engine comes from DOCKER_HOST (or STAGING_DOCKER_CONTEXT) set by the pipeline.
      ...(process.env.STAGING_DOCKER_CONTEXT ? { dockerContext: process.env.STAGING_DOCKER_CONTEXT } : {}),
      pull: "always",
      env: { APP_ENV: "staging" },
      swarm: { portMode: "host", endpointMode: "dnsrr" },
    },
    prod: {
      backend: "kubernetes",
      // KUBECONFIG comes from the pipeline (az aks get-credentials, a secure file);
      // without PROD_KUBE_CONTEXT its current context is used.
      ...(process.env.PROD_KUBE_CONTEXT ? { kubeContext: process.env.PROD_KUBE_CONTEXT } : {}),
      pull: "missing", // deploy the digest staging validated
      env: { APP_ENV: "production" },
    },
  },
});
