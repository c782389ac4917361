import { defineEnvironment, use } from "@kaupang/core";

// A new environment is a few use() calls plus your own settings.
export default defineEnvironment({
  services: {
    store: use("store"), // the preset as it is
    kv: use("kv", { env: { KV_MAX_MEMORY: "64mb" } }), // overrides are deep-merged over the preset
    site: use("static-site", {
      ports: ["18084:8080"], // a list replaces the preset's list
      env: { STORE_URL: "http://store:5432/", KV_URL: "http://kv:6379/" },
      dependsOn: ["store", "kv"],
    }),
  },
});
