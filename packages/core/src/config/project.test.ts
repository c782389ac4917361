import { existsSync } from "node:fs";
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
