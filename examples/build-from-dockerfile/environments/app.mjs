export default {
  services: {
    app: {
      image: "my-service", // publish/deploy as <dockerRepository>/my-service
      build: { context: "." }, // build from ./Dockerfile
      ports: ["18082:8000"],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/"],
        interval: "2s",
        retries: 15,
      },
      // busybox as process 1 ignores SIGTERM: an init lets the container stop at once.
      compose: { init: true },
    },
  },
};
