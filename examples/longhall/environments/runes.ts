import { defineEnvironment, use } from "@kaupang/core";

export default defineEnvironment({
  name: "runes",
  services: {
    cache: use("runes-cache"),
  },
});
