import { defineEnvironment, use } from "@kaupang/core";

export default defineEnvironment({
  services: {
    cache: use("runes-cache"),
  },
});
