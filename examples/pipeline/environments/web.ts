import { defineEnvironment } from "@kaupang/core";

export default defineEnvironment({
  services: {
    web: {
      image: "127.0.0.1:5000/kaupang-examples/pipeline-web:latest",
      build: "./web",
      ports: ["18087:8080"],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
      compose: { init: true },
    },
  },
});
