import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { createPlan } from "../plan/create-plan.js";
import { loadModel, loadProject } from "./project.js";

const project = () =>
  testdir({
    "kaupang.config.json": json({
      project: "shop",
      catalog: { sources: [{ type: "file", path: "./catalog.json" }] },
    }),
    "catalog.json": json({ services: { pg: { image: "postgres:16", ports: ["5432"] } } }),
    "environments/data.json": json({ services: { db: { $catalog: "pg" } } }),
  });

describe("Project.withEnvironment", () => {
  it("plans an environment given in memory, with its dependencies read from files", async () => {
    const dir = project();
    const base = await loadProject(dir);
    const copy = base.withEnvironment("app", {
      dependsOn: "data",
      services: {
        web: { image: "nginx:1.27", dependsOn: ["api"], env: { KEY: { $secret: "APP_KEY" } } },
        api: { $catalog: "pg", image: "api:1" },
      },
    });
    expect(copy.environmentNames()).toEqual(["data", "app"]);
    expect(copy.environmentFile("app")).toBe("environments/app.ts");
    const plan = createPlan(await loadModel(copy, { environments: ["app"], target: "local" }));
    expect(plan.environmentOrder).toEqual(["data", "app"]);
    expect(plan.environments[1]!.waves).toEqual([["api"], ["web"]]);
    expect(plan.environments[1]!.secrets).toEqual(["APP_KEY"]);
    expect(plan.environments[1]!.file).toBe("environments/app.ts");
    // Nothing was written, and the original project does not know the environment.
    expect(existsSync(join(dir, "environments/app.ts"))).toBe(false);
    expect(base.hasEnvironment("app")).toBe(false);
    expect(base.environmentNames()).toEqual(["data"]);
  });

  it("validates with the environment schema and names the given file", async () => {
    const base = await loadProject(project());
    const copy = base.withEnvironment("app", { services: { web: { imag: "x" } } }, "environments/app.json");
    await expect(loadModel(copy, { environments: ["app"], target: "local" })).rejects.toThrow(
      'environments/app.json: services.web.imag: unknown key (did you mean "image"?)',
    );
    await expect(base.withEnvironment("App", { services: {} }).loadEnvironment("App")).rejects.toThrow(
      'environments/App.ts: environment name "App" must be lowercase letters',
    );
  });

  it("replaces an existing environment's file and keeps its display name by default", async () => {
    const base = await loadProject(project());
    const copy = base.withEnvironment("data", { services: { db: "postgres:17" } });
    expect(copy.environmentNames()).toEqual(["data"]);
    expect(copy.environmentFile("data")).toBe("environments/data.json");
    const model = await loadModel(copy, { environments: ["data"], target: "local" });
    expect(model.environments.data!.services.db!.image).toBe("postgres:17");
    expect((await base.loadEnvironment("data")).services.db).toEqual({ $catalog: "pg" });
  });

  it("shares the catalog with the project it was made from", async () => {
    const base = await loadProject(project());
    const copy = base.withEnvironment("app", { services: {} }).withEnvironment("b", { services: {} });
    expect(copy.catalog()).toBe(base.catalog());
    expect(copy.environmentNames()).toEqual(["data", "app", "b"]);
  });
});

describe("environment files, folders and names", () => {
  const layout = () =>
    testdir({
      "kaupang.config.json": json({ project: "shop" }),
      // A folder with an index file is an environment; one without is shared code.
      "environments/api/index.ts":
        'import { port } from "../shared/ports";\nexport default { services: { web: { image: "api:1", ports: [`${port}:80`] } } };\n',
      "environments/shared/ports.ts": "export const port = 8080;\n",
      // `name` differs from the file name: the environment is "storage", not "db".
      "environments/db.json": json({ name: "storage", services: { pg: "postgres:16" } }),
      // `name` equal to the file name: the fast path.
      "environments/market.json": json({
        name: "market",
        dependsOn: ["storage", "api"],
        services: { m: "m:1" },
      }),
    });

  it("loads an environment from a folder's index file, with its relative imports", async () => {
    const project = await loadProject(layout());
    expect(await project.findEnvironment("api")).toBe(true);
    expect(project.environmentFile("api")).toBe("environments/api/index.ts");
    const model = await loadModel(project, { environments: ["api"], target: "local" });
    expect(model.environments.api!.services.web!.ports).toEqual([
      expect.objectContaining({ published: 8080, target: 80 }),
    ]);
  });

  it("finds an environment by its name key, and by name through dependsOn", async () => {
    const project = await loadProject(layout());
    const model = await loadModel(project, { environments: ["market"], target: "local" });
    expect(Object.keys(model.environments).sort()).toEqual(["api", "market", "storage"]);
    expect(model.environments.storage!.file).toBe("environments/db.json");
    expect((await project.allEnvironmentNames()).sort()).toEqual(["api", "market", "storage"]);
    // The file name is not a name when `name` says otherwise.
    await expect(loadModel(project, { environments: ["db"], target: "local" })).rejects.toThrow(
      'unknown environment "db"; environments: api, market, storage',
    );
  });

  it("keeps lazy loading when names match: a broken unrelated file is never read", async () => {
    const dir = layout();
    writeFileSync(join(dir, "environments/broken.ts"), "export default {{{");
    const project = await loadProject(dir);
    const model = await loadModel(project, { environments: ["api"], target: "local" });
    expect(Object.keys(model.environments)).toEqual(["api"]);
  });

  it("rejects two environments with one name, a folder and a file of one name, and a bad name", async () => {
    const dup = testdir({
      "kaupang.config.json": json({ project: "shop" }),
      "environments/a.json": json({ name: "web", services: {} }),
      "environments/web.json": json({ services: {} }),
    });
    await expect(
      loadModel(await loadProject(dup), { environments: ["nope"], target: "local" }),
    ).rejects.toThrow(
      'environments/web.json: name: environment "web" is also defined by environments/a.json',
    );
    const both = testdir({
      "kaupang.config.json": json({ project: "shop" }),
      "environments/api.json": json({ services: {} }),
      "environments/api/index.json": json({ services: {} }),
    });
    await expect(
      loadModel(await loadProject(both), { environments: ["api"], target: "local" }),
    ).rejects.toThrow('environments: environment "api" is defined twice (api/index.json and api.json)');
    const bad = testdir({
      "kaupang.config.json": json({ project: "shop" }),
      "environments/api.json": json({ name: "Api_1", services: {} }),
    });
    await expect(
      loadModel(await loadProject(bad), { environments: ["api"], target: "local" }),
    ).rejects.toThrow('environments/api.json: name: "Api_1" must be lowercase letters');
  });
});
