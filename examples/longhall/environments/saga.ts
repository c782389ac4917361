import { defineEnvironment, use } from "@kaupang/core";

export default defineEnvironment({
  services: {
    store: use("saga-store", { env: { SAGA_RETENTION: "forever" } }),
  },
});
