import { defineEnvironment, secret } from "@kaupang/core";

// The pipeline sets LONGHALL_API_TAG to its immutable build tag.
export default defineEnvironment({
  services: {
    web: {
      image: `longhall-api:${process.env.LONGHALL_API_TAG ?? "latest"}`,
      ports: ["18095:8080"],
      env: { LOG_LEVEL: "info", JARL_KEY: secret("LONGHALL_JARL_KEY") },
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      compose: { init: true },
    },
  },
});
