import { defineEnvironment, secret } from "@kaupang/core";

// Kubernetes needs images a cluster can pull: push them first (kaupang build --push, or CI).
const image = process.env.KAUPANG_EXAMPLE_IMAGE ?? "127.0.0.1:5000/kaupang-test/busybox:latest";

export default defineEnvironment({
  services: {
    // runOnce → a Job; web waits for it to complete.
    migrate: {
      image,
      runOnce: true,
      command: ["sh", "-c", "echo applied migration 0003_ledger"],
    },
    // A Deployment with 2 replicas, and a ClusterIP Service for its port.
    web: {
      image,
      dependsOn: "migrate",
      replicas: 2,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      ports: ["18086:8080"],
      env: {
        LOG_LEVEL: "info",
        API_KEY: secret("KUBE_EXAMPLE_API_KEY"), // → secretKeyRef into the Secret "kube-example-secrets"
      },
      resources: { cpus: 0.25, memory: "64m" },
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      compose: { init: true },
    },
  },
});
