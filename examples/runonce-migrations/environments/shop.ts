import { defineEnvironment } from "@kaupang/core";

const image = process.env.KAUPANG_EXAMPLE_IMAGE ?? "127.0.0.1:5000/kaupang-test/busybox:latest";
const init = { compose: { init: true } };

// db → migrate (runs once, must exit 0) → web and worker in parallel.
export default defineEnvironment({
  services: {
    // A stand-in for a database: it answers on 5432 once it is up.
    db: {
      image,
      command: ["httpd", "-f", "-p", "5432", "-h", "/www"],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/"],
        interval: "2s",
        retries: 15,
      },
      ...init,
    },
    // A one-shot task: its dependents start only after it exited 0.
    // A failing migration (exit non-zero) stops the deploy before web starts.
    migrate: {
      image,
      runOnce: true,
      dependsOn: "db",
      command: ["sh", "-c", "wget -q -O /dev/null http://db:5432/ && echo applied migration 0002_orders"],
      ...init,
    },
    web: {
      image,
      dependsOn: "migrate",
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      ports: ["18083:8080"],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      ...init,
    },
    worker: {
      image,
      dependsOn: "migrate",
      command: ["sh", "-c", "while true; do wget -q -O /dev/null http://db:5432/; sleep 5; done"],
      ...init,
    },
  },
});
