import { describe, expect, it } from "vitest";
import { place } from "./problems.js";
import { canonicalEnvironment, exportEnvironment } from "./serialize.js";

const drawn = {
  services: {
    web: {
      dependsOn: ["store", "cache"],
      env: { TOKEN: { $secret: "WEB_TOKEN" }, MODE: "prod" },
      ports: ["8088:80"],
      image: "nginx:1.27",
    },
    store: { $catalog: "saga-store", env: { SAGA_RETENTION: "forever" } },
    cache: { $catalog: "runes-cache" },
  },
  dependsOn: "saga",
};

describe("exportEnvironment", () => {
  it("writes TypeScript with use() and secret(), keys in schema order, maps and dependsOn sorted", () => {
    expect(exportEnvironment(drawn, "ts")).toBe(
      [
        "// Written by kaupang studio.",
        'import { defineEnvironment, secret, use } from "@kaupang/core";',
        "",
        "export default defineEnvironment({",
        '  dependsOn: ["saga"],',
        "  services: {",
        '    cache: use("runes-cache"),',
        '    store: use("saga-store", { env: { SAGA_RETENTION: "forever" } }),',
        "    web: {",
        '      image: "nginx:1.27",',
        '      ports: ["8088:80"],',
        '      env: { MODE: "prod", TOKEN: secret("WEB_TOKEN") },',
        '      dependsOn: ["cache", "store"],',
        "    },",
        "  },",
        "});",
        "",
      ].join("\n"),
    );
  });

  it("writes JSON with $catalog and $secret tags", () => {
    const json = JSON.parse(exportEnvironment(drawn, "json"));
    expect(json).toEqual(canonicalEnvironment(drawn));
    expect(json.services.web.env.TOKEN).toEqual({ $secret: "WEB_TOKEN" });
    expect(json.services.cache).toEqual({ $catalog: "runes-cache" });
    expect(Object.keys(json.services)).toEqual(["cache", "store", "web"]);
    expect(exportEnvironment(drawn, "json").endsWith("}\n")).toBe(true);
  });

  it("gives the same bytes for the same drawing, whatever order it was drawn in", () => {
    const reordered = {
      dependsOn: ["saga"],
      services: {
        cache: { $catalog: "runes-cache" },
        web: {
          image: "nginx:1.27",
          env: { MODE: "prod", TOKEN: { $secret: "WEB_TOKEN" } },
          dependsOn: ["cache", "store", "cache"],
          ports: ["8088:80"],
        },
        store: { env: { SAGA_RETENTION: "forever" }, $catalog: "saga-store" },
      },
    };
    for (const format of ["ts", "json"] as const) {
      expect(exportEnvironment(reordered, format)).toBe(exportEnvironment(drawn, format));
    }
  });

  it("breaks long values over lines and quotes keys that are not identifiers", () => {
    const ts = exportEnvironment(
      {
        env: { "app.mode": "x" },
        services: {
          probe: {
            image: "busybox",
            healthcheck: {
              test: [
                "CMD",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                "http://127.0.0.1:8080/a-rather-long-health-path",
              ],
              interval: "2s",
              retries: 15,
            },
            labels: { "dev.example/owner": "team" },
          },
        },
      },
      "ts",
    );
    expect(ts).toContain('  env: { "app.mode": "x" },');
    expect(ts).toContain(
      [
        "      healthcheck: {",
        '        test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/a-rather-long-health-path"],',
        '        interval: "2s",',
        "        retries: 15,",
        "      },",
      ].join("\n"),
    );
    expect(ts).toContain('labels: { "dev.example/owner": "team" }');
    expect(ts).toContain('import { defineEnvironment } from "@kaupang/core";');
    for (const line of ts.split("\n")) expect(line.length).toBeLessThanOrEqual(110);
  });

  it("writes a secret() only for env values, and nothing of a secret but its variable name", () => {
    const ts = exportEnvironment(
      {
        env: { A: { $secret: "HOST_A" } },
        services: { s: { image: "x", compose: { x: { $secret: "raw" } } } },
      },
      "ts",
    );
    expect(ts).toContain('env: { A: secret("HOST_A") }');
    expect(ts).toContain('compose: { x: { $secret: "raw" } }');
  });
});

describe("placing the core's problems", () => {
  it("reads the file and field path the core reports", () => {
    const file = "environments/hall.ts";
    expect(place({ file, path: ["services", "web", "ports", 0], message: "bad" }, file)).toEqual({
      scope: "service",
      service: "web",
      field: "ports",
      path: ["services", "web", "ports", 0],
      message: "bad",
    });
    expect(place({ file, path: ["services", "a b", "image"], message: "x" }, file)).toMatchObject({
      service: "a b",
      field: "image",
    });
    expect(place({ file, path: ["services", "runes-cache"], message: "catalog preset" }, file)).toEqual({
      scope: "service",
      service: "runes-cache",
      path: ["services", "runes-cache"],
      message: "catalog preset",
    });
    expect(
      place({ file, path: [], subject: "name", message: 'environment name "App" must be' }, file),
    ).toEqual({ scope: "environment", field: "name", path: [], message: 'environment name "App" must be' });
    expect(
      place({ file: "environments/saga.ts", path: ["services", "s"], message: 'got "secret-ish"' }, file),
    ).toEqual({ scope: "project", path: [], message: 'environments/saga.ts: services.s: got "…"' });
  });
});
