/** A pipeline run against an in-memory Backend: steps in DAG order, what a failure stops, the summary. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { fakeBackend } from "../deploy/testing/fake-backend.js";
import { preparePipeline, runPipeline } from "./run-pipeline.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function project(steps: Record<string, unknown>): string {
  return testdir({
    "kaupang.config.json": json({ project: "hall", pipelines: { ship: { steps } } }),
    "environments/saga.json": json({ services: { store: `r/store@${digest("a")}` } }),
    "environments/market.json": json({ dependsOn: "saga", services: { web: `r/web@${digest("b")}` } }),
  });
}

describe("runPipeline", () => {
  it("runs the steps as their needs allow, deploying and tearing down through the same paths as up and down", async () => {
    const cwd = project({
      prepare: { run: "echo ready > ready.txt" },
      deploy: { up: "market", needs: "prepare" },
      settle: { wait: { seconds: 0 }, needs: "deploy" },
      teardown: { down: "market", needs: "settle" },
    });
    const backend = fakeBackend();
    const prepared = await preparePipeline({ cwd, pipeline: "ship" });
    expect(Object.keys(prepared.upPlans)).toEqual(["deploy"]);
    expect(prepared.downPlans.teardown?.order).toEqual(["market"]);

    const result = await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    expect(result.status).toBe("succeeded");
    expect(result.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      "prepare:succeeded",
      "deploy:succeeded",
      "settle:succeeded",
      "teardown:succeeded",
    ]);
    expect(result.steps[1]!.deployments?.map((d) => d.environment)).toEqual(["saga", "market"]);
    expect(existsSync(join(cwd, "ready.txt"))).toBe(true);
    expect(backend.calls).toEqual(["apply saga", "apply market", "remove market"]);
  });

  it("skips what needs a failed step and reports the pipeline failed", async () => {
    const cwd = project({
      check: { run: "echo broken >&2; exit 4" },
      deploy: { up: "market", needs: "check" },
    });
    const backend = fakeBackend();
    const result = await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    expect(result.status).toBe("failed");
    expect(result.steps).toMatchObject([
      { step: "check", status: "failed", error: "run step check exited with code 4: broken" },
      { step: "deploy", status: "skipped" },
    ]);
    expect(backend.calls).toEqual([]);
  });
});
