import { defineEnvironment, secret } from "@kaupang/core";

const image = process.env.KAUPANG_EXAMPLE_IMAGE ?? "127.0.0.1:5000/kaupang-test/busybox:latest";

export default defineEnvironment({
  services: {
    web: {
      image,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      ports: ["18085:8080"],
      env: {
        LOG_LEVEL: "info", // a literal: written to the artifact and the ledger (rollback replays it)
        API_KEY: secret("SECRETS_EXAMPLE_API_KEY"), // a reference: the value is never written
        DB_PASS: secret("SECRETS_EXAMPLE_DB_PASSWORD"), // container var DB_PASS ← host SECRETS_EXAMPLE_DB_PASSWORD
      },
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      compose: { init: true },
    },
  },
});
