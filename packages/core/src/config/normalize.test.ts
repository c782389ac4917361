import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { prefixImage } from "./normalize.js";
import { loadModel, loadProject } from "./project.js";

async function model(
  files: Record<string, string>,
  options: { target?: string; backend?: "swarm"; env?: string[] } = {},
) {
  const project = await loadProject(testdir(files));
  return loadModel(project, {
    environments: options.env ?? ["api"],
    target: options.target,
    backend: options.backend,
    processEnv: {},
  });
}

describe("normalisation", () => {
  it("expands string shorthand, dependsOn forms and defaults", async () => {
    const m = await model({
      "kaupang.config.json": json({ project: "demo" }),
      "environments/api.json": json({
        dependsOn: "db",
        services: {
          web: "nginx:1",
          worker: { image: "w", dependsOn: "web" },
          cron: { image: "c", dependsOn: ["web", "worker"] },
        },
      }),
      "environments/db.json": json({ services: { pg: "postgres:16" } }),
    });
    expect(Object.keys(m.environments)).toEqual(["api", "db"]);
    const api = m.environments.api!;
    expect(api.dependsOn).toEqual(["db"]);
    expect(api.services.web).toMatchObject({
      name: "web",
      image: "nginx:1",
      replicas: 1,
      runOnce: false,
      dependsOn: [],
    });
    expect(api.services.worker!.dependsOn).toEqual(["web"]);
    expect(api.services.cron!.dependsOn).toEqual(["web", "worker"]);
    expect(m.target).toEqual({
      name: "local",
      backend: "compose",
      namespace: "demo",
      pull: "missing",
      state: "local",
    });
  });

  it("prefixes bare image names only", () => {
    expect(prefixImage("longhall-api", "ghcr.io/midgard")).toBe("ghcr.io/midgard/longhall-api");
    expect(prefixImage("longhall-api:1.2", "ghcr.io/midgard/")).toBe("ghcr.io/midgard/longhall-api:1.2");
    expect(prefixImage("longhall-api@sha256:abc", "r.io")).toBe("r.io/longhall-api@sha256:abc");
    expect(prefixImage("library/nginx", "ghcr.io/midgard")).toBe("library/nginx");
    expect(prefixImage("localhost:5000/x:1", "ghcr.io/midgard")).toBe("localhost:5000/x:1");
    expect(prefixImage("nginx", undefined)).toBe("nginx");
  });

  it("leaves catalog preset images alone but prefixes images written in the environment", async () => {
    const m = await model({
      "kaupang.config.json": json({
        project: "demo",
        dockerRepository: "ghcr.io/midgard",
        catalog: { sources: [{ type: "file", path: "catalog.json" }] },
      }),
      "catalog.json": json({ services: { postgres: { image: "postgres:16-alpine", ports: ["5432:5432"] } } }),
      "environments/api.json": json({
        services: {
          db: { $catalog: "postgres" },
          web: "longhall-api",
          db2: { $catalog: "postgres", image: "pg-fork" },
        },
      }),
    });
    const s = m.environments.api!.services;
    expect(s.db!.image).toBe("postgres:16-alpine");
    expect(s.db!.preset).toBe("postgres");
    expect(s.web!.image).toBe("ghcr.io/midgard/longhall-api");
    expect(s.db2!.image).toBe("ghcr.io/midgard/pg-fork");
  });

  it("merges env by precedence: globalEnv < environment < target < service", async () => {
    const m = await model(
      {
        "kaupang.config.json": json({
          project: "demo",
          globalEnv: { A: "global", B: "global", C: "global", D: "global", TZ: "UTC" },
          targets: { staging: { backend: "swarm", env: { C: "target", D: "target" } } },
        }),
        "environments/api.json": json({
          env: { B: "env", C: "env", D: "env" },
          services: { web: { image: "x", env: { D: "service", N: 5, F: false, S: { $secret: "HOST_S" } } } },
        }),
      },
      { target: "staging" },
    );
    expect(m.environments.api!.services.web!.env).toEqual({
      A: "global",
      B: "env",
      C: "target",
      D: "service",
      F: "false",
      N: "5",
      S: { $secret: "HOST_S" },
      TZ: "UTC",
    });
  });

  it("deep-merges use() overrides over the preset; earlier sources win", async () => {
    const m = await model({
      "kaupang.config.ts": `export default { project: "demo", catalog: { sources: [
        { type: "file", path: "./first.json" }, { type: "file", path: "./second.json" } ] } };`,
      "first.json": json({
        services: { redis: { image: "redis:7", env: { A: "1", B: "1" }, ports: ["6379"] } },
      }),
      "second.json": json({ services: { redis: { image: "redis:6" }, memcached: "memcached:1" } }),
      "environments/api.ts": `import { defineEnvironment, use } from "@kaupang/core";
        export default defineEnvironment({ services: {
          cache: use("redis", { env: { B: "2" }, ports: ["6380:6379"] }),
          mc: use("memcached"),
        } });`,
    });
    const s = m.environments.api!.services;
    expect(s.cache!.image).toBe("redis:7");
    expect(s.cache!.env).toEqual({ A: "1", B: "2" });
    expect(s.cache!.ports).toEqual([{ published: 6380, target: 6379, protocol: "tcp" }]);
    expect(s.mc!.image).toBe("memcached:1");
  });

  it('use("name@version") picks the preset\'s image at that tag', async () => {
    const m = await model({
      "kaupang.config.json": json({
        project: "demo",
        catalog: { sources: [{ type: "file", path: "c.json" }] },
      }),
      "c.json": json({ services: { api: { image: "reg.io/team/api:1.0.0", ports: ["80"] } } }),
      "environments/api.json": json({ services: { a: { $catalog: "api@1.4.2" }, b: { $catalog: "api" } } }),
    });
    expect(m.environments.api!.services.a!.image).toBe("reg.io/team/api:1.4.2");
    expect(m.environments.api!.services.a!.preset).toBe("api");
    expect(m.environments.api!.services.b!.image).toBe("reg.io/team/api:1.0.0");
  });

  it("picks the backend: -b > target > defaultBackend > compose", async () => {
    const files = {
      "kaupang.config.json": json({
        project: "demo",
        defaultBackend: "kubernetes",
        targets: { sw: { backend: "swarm" }, plain: {} },
      }),
      "environments/api.json": json({ services: { web: "x" } }),
    };
    expect((await model(files, { target: "sw" })).target.backend).toBe("swarm");
    expect((await model(files, { target: "plain" })).target.backend).toBe("kubernetes");
    expect((await model(files, { target: "plain", backend: "swarm" })).target.backend).toBe("swarm");
    const noDefault = { ...files, "kaupang.config.json": json({ project: "demo" }) };
    expect((await model(noDefault)).target.backend).toBe("compose");
  });

  it("reads the target from KAUPANG_TARGET when --target is absent", async () => {
    const project = await loadProject(
      testdir({
        "kaupang.config.json": json({ project: "demo", targets: { staging: { backend: "swarm" } } }),
        "environments/api.json": json({ services: { web: "x" } }),
      }),
    );
    const m = await loadModel(project, {
      environments: ["api"],
      processEnv: { KAUPANG_TARGET: "staging" },
    });
    expect(m.target.name).toBe("staging");
  });

  it("normalises healthchecks, resources and build", async () => {
    const m = await model({
      "kaupang.config.json": json({ project: "demo", dockerRepository: "reg.io/team" }),
      "environments/api.json": json({
        services: {
          web: {
            build: { context: "./web", args: { V: "1" } },
            healthcheck: { test: "curl -f localhost", interval: "5s", retries: 3 },
            resources: { cpus: 0.5, memory: "512m" },
          },
        },
      }),
    });
    const web = m.environments.api!.services.web!;
    expect(web.image).toBe("reg.io/team/demo-web");
    expect(web.build).toEqual({ context: "./web", args: { V: "1" } });
    expect(web.healthcheck).toEqual({
      test: ["CMD-SHELL", "curl -f localhost"],
      intervalMs: 5000,
      retries: 3,
    });
    expect(web.resources).toEqual({ cpus: "0.5", memoryBytes: 512 * 1024 * 1024 });
  });

  it("rejects a service with neither image nor build", async () => {
    await expect(
      model({
        "kaupang.config.json": json({ project: "demo" }),
        "environments/api.json": json({ services: { web: { ports: ["80"] } } }),
      }),
    ).rejects.toThrow(
      "environments/api.json: services.web: a service needs an image, a build, or a catalog preset",
    );
  });

  it("rejects invalid names", async () => {
    await expect(
      model({
        "kaupang.config.json": json({ project: "demo" }),
        "environments/api.json": json({ services: { Web_1: "x" } }),
      }),
    ).rejects.toThrow('environments/api.json: services.Web_1: service name "Web_1" must be lowercase');
    await expect(
      model({
        "kaupang.config.json": json({ project: "Demo" }),
        "environments/api.json": json({ services: { w: "x" } }),
      }),
    ).rejects.toThrow('kaupang.config.json: project: "Demo" must be lowercase');
  });

  it("resolves use() and secret() in .mjs configs from a repo with nothing installed", async () => {
    const m = await model({
      "kaupang.config.mjs": `/** @type {import('kaupang').KaupangConfig} */
        export default { project: "demo", catalog: { sources: [{ type: "file", path: "c.json" }] } };`,
      "c.json": json({ services: { pg: "postgres:16" } }),
      "environments/api.mjs": `import { use, secret } from "kaupang";
        // comments are fine here
        export default { services: { db: use("pg"), web: { image: "w", env: { K: secret("MY_KEY") } } } };`,
    });
    expect(m.environments.api!.services.db!.image).toBe("postgres:16");
    expect(m.environments.api!.services.web!.env).toEqual({ K: { $secret: "MY_KEY" } });
  });
});
