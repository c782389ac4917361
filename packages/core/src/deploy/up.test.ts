/**
 * The orchestration of `up` through the one apply path, against an in-memory
 * Backend: what each failure records in the ledger (and with which step),
 * that a failed render leaves nothing behind, and the no-change check.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fakeBackend } from "./testing/fake-backend.js";
import { digest, hall, records } from "./testing/fixtures.js";
import { up } from "./up.js";

describe("up, through the one apply path", () => {
  it("applies dependencies first and records each environment as succeeded, its artifact written", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    const result = await up({ cwd, environments: ["market"], backendImpl: backend, processEnv: {} });
    expect(backend.calls).toEqual(["apply saga", "apply market"]);
    expect(result.deployments.map((d) => d.environment)).toEqual(["saga", "market"]);
    for (const env of ["saga", "market"]) {
      expect(records(cwd, env).map((r) => [r.action, r.status, r.unit !== undefined])).toEqual([
        ["up", "succeeded", true],
      ]);
    }
    expect(existsSync(join(cwd, ".kaupang/local/market.compose.yaml"))).toBe(true);
  });

  it("records a failed hook as failed at step hook, and applies nothing after it", async () => {
    const cwd = hall({ hooks: { beforeUp: "exit 3" } });
    const backend = fakeBackend();
    await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
      code: "ERR_HOOK_FAILED",
    });
    expect(backend.calls).toEqual(["apply saga"]);
    expect(records(cwd, "saga").map((r) => r.status)).toEqual(["succeeded"]);
    expect(records(cwd, "market")).toMatchObject([{ status: "failed", failedStep: "hook" }]);
  });

  it("records a failed resolution in the environment that names the image, before anything is applied", async () => {
    // Nothing listens on port 9: the registry refuses at once.
    const cwd = hall({ services: { web: "127.0.0.1:9/web:1" } });
    const backend = fakeBackend();
    await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
      details: { environment: "market" },
    });
    expect(backend.calls).toEqual([]);
    expect(records(cwd, "saga")).toEqual([]);
    expect(records(cwd, "market")).toMatchObject([{ status: "failed", failedStep: "resolve" }]);
  });

  it("records a failed apply at step apply, and a wrong image running at step verify", async () => {
    for (const [fail, step] of [
      ["failApply", "apply"],
      ["runWrongImage", "verify"],
    ] as const) {
      const cwd = hall();
      const backend = fakeBackend();
      backend[fail].add("market");
      await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toMatchObject({
        code: step === "apply" ? "ERR_DEPLOY_FAILED" : "ERR_VERIFY_FAILED",
      });
      expect(
        records(cwd, "saga").map((r) => r.status),
        step,
      ).toEqual(["succeeded"]);
      expect(records(cwd, "market"), step).toMatchObject([{ status: "failed", failedStep: step }]);
    }
  });

  it("applies nothing and records unchanged when the pinned units equal the current ones and nothing drifted", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend });
    await up({ cwd, environments: ["market"], backendImpl: backend });
    expect(backend.calls).toEqual(["apply saga", "apply market"]);
    expect(records(cwd, "market").map((r) => r.status)).toEqual(["succeeded", "unchanged"]);
    await up({ cwd, environments: ["market"], backendImpl: backend, force: true });
    expect(backend.calls.slice(2)).toEqual(["apply saga", "apply market"]);
  });

  it("leaves no file and no record when rendering fails", async () => {
    const cwd = hall(
      { services: { web: { image: `r/web@${digest("b")}`, volumes: ["./data:/data"] } } },
      { targets: { k8s: { backend: "kubernetes" } } },
    );
    const backend = fakeBackend();
    await expect(
      up({ cwd, environments: ["market"], target: "k8s", backendImpl: backend }),
    ).rejects.toMatchObject({ code: "ERR_CONFIG_INVALID" });
    expect(backend.calls).toEqual([]);
    expect(readdirSync(cwd).sort()).toEqual(["environments", "kaupang.config.json"]);
  });
});
