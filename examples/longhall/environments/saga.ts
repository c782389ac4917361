import { defineEnvironment, use } from "@kaupang/core";

export default defineEnvironment({
  name: "saga",
  services: {
    store: use("saga-store", { env: { SAGA_RETENTION: "forever" } }),
  },
});
