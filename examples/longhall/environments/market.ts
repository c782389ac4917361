import { defineEnvironment, secret } from "@kaupang/core";

const base = "127.0.0.1:5000/kaupang-test/busybox:latest";
// busybox as process 1 ignores SIGTERM: an init lets containers stop at once.
// On Kubernetes, a shared process namespace makes the pod's pause process 1.
const sharedPid = { kubernetes: { spec: { template: { spec: { shareProcessNamespace: true } } } } };
const init = { compose: { init: true }, ...sharedPid };

export default defineEnvironment({
  name: "market",
  dependsOn: ["saga", "runes"],
  env: { SAGA_URL: "http://store:8080/", RUNES_URL: "http://cache:6379/" },
  services: {
    migrate: {
      image: base,
      runOnce: true,
      command: ["sh", "-c", "wget -q -O /dev/null $SAGA_URL && echo migrated"],
      ...init,
    },
    web: {
      image: `longhall-market:${process.env.LONGHALL_MARKET_TAG ?? "latest"}`,
      build: "./market",
      dependsOn: "migrate",
      ports: ["18090:8080"],
      env: { JARL_KEY: secret("LONGHALL_JARL_KEY") },
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      ...sharedPid,
    },
    worker: {
      image: base,
      dependsOn: "migrate",
      command: ["sh", "-c", "while true; do wget -q -O /dev/null $RUNES_URL; sleep 5; done"],
      resources: { cpus: 0.25, memory: "64m" },
      ...init,
    },
  },
});
