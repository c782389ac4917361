/** A pipeline run against an in-memory Backend: steps in DAG order, what a failure stops, the summary. */
import { existsSync, writeFileSync } from "node:fs";
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

  it("an up step with rollbackOnFailure re-applies the environment's last succeeded deploy when its apply fails", async () => {
    const cwd = project({ deploy: { up: "market", rollbackOnFailure: true } });
    const backend = fakeBackend();
    expect((await runPipeline({ cwd, pipeline: "ship", backendImpl: backend })).status).toBe("succeeded");
    writeFileSync(
      join(cwd, "environments/market.json"),
      json({ dependsOn: "saga", services: { web: `r/web@${digest("c")}` } }),
    );
    backend.failApply.add("market");
    const result = await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    expect(result.status).toBe("failed");
    expect(result.steps[0]).toMatchObject({ step: "deploy", status: "failed" });
    expect(result.steps[0]!.error).toMatch(
      /service web exited with code 1; rolled back to \S+ \(recorded as \S+\)$/,
    );
    // saga is unchanged the second time; market: the first deploy, the failed one, the restored first.
    expect(backend.calls).toEqual(["apply saga", "apply market", "apply market", "apply market"]);
    expect(backend.applied.filter((e) => e.environment === "market").map((e) => e.images[0]!.digest)).toEqual(
      [digest("b"), digest("c"), digest("b")],
    );
  });

  it("an up step without rollbackOnFailure takes the config's, and false there overrides it", async () => {
    const steps = {
      deploy: { up: "market" },
      again: { up: "market", rollbackOnFailure: false, needs: "deploy" },
    };
    const cwd = testdir({
      "kaupang.config.json": json({
        project: "hall",
        rollbackOnFailure: true,
        pipelines: { ship: { steps } },
      }),
      "environments/saga.json": json({ services: { store: `r/store@${digest("a")}` } }),
      "environments/market.json": json({ dependsOn: "saga", services: { web: `r/web@${digest("b")}` } }),
    });
    const backend = fakeBackend();
    await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    writeFileSync(
      join(cwd, "environments/market.json"),
      json({ dependsOn: "saga", services: { web: `r/web@${digest("c")}` } }),
    );
    backend.failApply.add("market");
    const rolled = await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    expect(rolled.steps.map((s) => `${s.step}:${s.status}`)).toEqual(["deploy:failed", "again:skipped"]);
    expect(rolled.steps[0]!.error).toMatch(/; rolled back to \S+/);
    const steps2 = { again: { up: "market", rollbackOnFailure: false } };
    writeFileSync(
      join(cwd, "kaupang.config.json"),
      json({ project: "hall", rollbackOnFailure: true, pipelines: { ship: { steps: steps2 } } }),
    );
    backend.failApply.add("market");
    const kept = await runPipeline({ cwd, pipeline: "ship", backendImpl: backend });
    expect(kept.steps[0]).toMatchObject({ step: "again", status: "failed" });
    expect(kept.steps[0]!.error).not.toContain("rolled back");
    expect(backend.applied.at(-1)!.images[0]!.digest).toBe(digest("c"));
  });
});
