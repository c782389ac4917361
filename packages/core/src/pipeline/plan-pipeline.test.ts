import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { loadProject } from "../config/project.js";
import { planPipeline } from "./plan-pipeline.js";

const project = (steps: Record<string, unknown>) =>
  loadProject(
    testdir({
      "kaupang.config.json": json({ project: "p", pipelines: { ship: { steps } } }),
    }),
  );

describe("planPipeline", () => {
  it("normalises each step once: its action's fields, durations parsed, defaults applied", async () => {
    const p = await project({
      build: { build: "app", push: true },
      deploy: { up: "app", needs: "build", target: "prod" },
      health: { wait: { http: "http://127.0.0.1:8080/" }, needs: "deploy" },
      pause: { wait: { seconds: 1.5 } },
      smoke: { run: "curl -f localhost", cwd: "scripts", env: { A: "1" }, needs: ["health", "health"] },
      drop: { down: "old" },
    });
    const plan = planPipeline(p, "ship");
    expect(plan.waves).toEqual([["build", "drop", "pause"], ["deploy"], ["health"], ["smoke"]]);
    expect(plan.steps.build).toEqual({
      name: "build",
      action: "build",
      subject: "app",
      needs: [],
      environment: "app",
      push: true,
    });
    expect(plan.steps.deploy).toMatchObject({ action: "up", environment: "app", target: "prod" });
    expect(plan.steps.drop).toMatchObject({ action: "down", environment: "old" });
    expect(plan.steps.health).toMatchObject({
      subject: "http http://127.0.0.1:8080/ → 200 (every 2s, up to 30s)",
      wait: { kind: "http", url: "http://127.0.0.1:8080/", status: 200, intervalMs: 2000, timeoutMs: 30_000 },
    });
    expect(plan.steps.pause).toMatchObject({ subject: "1.5s", wait: { kind: "seconds", ms: 1500 } });
    expect(plan.steps.smoke).toMatchObject({
      needs: ["health"],
      run: { command: "curl -f localhost", cwd: `${p.root}/scripts`, env: { A: "1" } },
    });
  });

  it("names a missing need and a step cycle with the cycle's names", async () => {
    const missing = await project({ a: { run: "true", needs: "b2" }, b: { run: "true" } });
    expect(() => planPipeline(missing, "ship")).toThrow(
      'kaupang.config.json: pipelines.ship.steps.a.needs: step "b2" does not exist',
    );
    const cyclic = await project({ a: { run: "true", needs: "b" }, b: { run: "true", needs: "a" } });
    try {
      planPipeline(cyclic, "ship");
      expect.unreachable();
    } catch (error) {
      expect((error as { cycle: unknown }).cycle).toEqual({ kind: "steps", nodes: ["a", "b", "a"] });
    }
  });
});
