import { defineConfig } from "@kaupang/core";

export default defineConfig({
  environments: "./environments",
  project: "secrets",
  defaultBackend: "compose",
  targets: {
    local: {},
    // On Kubernetes a secret() becomes a secretKeyRef into the Secret "secrets-secrets".
    cluster: {
      backend: "kubernetes",
      kubeContext: process.env.SECRETS_KUBE_CONTEXT ?? "kaupang-a",
      kubeconfig: process.env.SECRETS_KUBECONFIG ?? "./kubeconfig",
    },
  },
});
