import { defineEnvironment } from "@kaupang/core";

// The image is the busybox base the test harness pushes to the local registry;
// point KAUPANG_EXAMPLE_IMAGE at any image that serves HTTP on 8080.
const image = process.env.KAUPANG_EXAMPLE_IMAGE ?? "127.0.0.1:5000/kaupang-test/busybox:latest";

export default defineEnvironment({
  services: {
    web: {
      image,
      command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
      ports: ["18080:8080"],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        interval: "2s",
        retries: 15,
      },
    },
  },
});
