import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend, BackendContext } from "../backends/backend.js";
import type { KaupangEvent } from "../base/events.js";
import { interrupt, resetInterrupt } from "../base/interrupt.js";
import { addSecretValues, clearSecretValues } from "../base/redact.js";
import { ledgerAt } from "../ledger/ledger.js";
import { deployments } from "../ledger/record.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { applyUnit } from "./apply-unit.js";
import { recordInterrupted } from "./outcome.js";

const dirs: string[] = [];
let backendImpl: Backend | undefined;
afterEach(() => {
  backendImpl = undefined;
  resetInterrupt();
  clearSecretValues();
  dirs.splice(0).forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});

const digest = (c: string) => `sha256:${c.repeat(64)}`;

function unit(version: string, hooks: Partial<DeploymentUnit["environment"]["hooks"]> = {}): DeploymentUnit {
  return {
    project: "p",
    target: { name: "local", backend: "compose", namespace: "p" },
    backend: "compose",
    pull: "missing",
    environment: {
      environment: "api",
      file: "environments/api.json",
      dependsOn: [],
      waves: [["web"]],
      runOnce: [],
      replicas: { web: 1 },
      images: [{ service: "web", ref: "r/web:latest", digest: digest(version), pinned: true }],
      secrets: [],
      artifact: { path: ".kaupang/local/api.compose.yaml", content: `image: r/web@${digest(version)}\n` },
      views: {},
      hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [], ...hooks },
      commands: [],
    },
  };
}

/** A backend that runs whatever was applied last, and fails applies of the versions in `failing`. */
function fakeBackend(options: { failing?: string[]; onApply?: (version: string) => Promise<void> } = {}) {
  let runs = "";
  const applied: string[] = [];
  const backend: Backend = {
    async apply(_ctx, env) {
      const version = env.images[0]!.digest!.slice(7, 8);
      applied.push(version);
      await options.onApply?.(version);
      runs = version;
      if (options.failing?.includes(version)) throw new Error(`web did not become healthy (${version})`);
    },
    async remove() {},
    async running() {
      return [{ service: "web", instances: [{ digests: [digest(runs)], ref: "r/web", state: "running" }] }];
    },
  };
  backendImpl = backend;
  return { applied, runs: () => runs };
}

function setup() {
  const root = mkdtempSync(join(tmpdir(), "kaupang-apply-"));
  dirs.push(root);
  const ledger = ledgerAt(
    { cacheDir: join(root, ".kaupang"), root, remote: undefined },
    { environment: "api", target: "local" },
  );
  const events: KaupangEvent[] = [];
  const ctx: BackendContext = {
    project: "p",
    target: unit("a").target,
    pull: "missing",
    root,
    events: (e) => events.push(e),
    timeoutMs: 10_000,
  };
  return { root, ledger, ctx, events };
}

const statuses = async (ledger: ReturnType<typeof setup>["ledger"]) =>
  (await ledger.read()).records.map((r) => `${r.action}:${r.status}`);

describe("applyUnit", () => {
  it("records started before the first side effect and the outcome after it", async () => {
    const { ledger, ctx } = setup();
    let seenAtApply: string[] = [];
    fakeBackend({
      onApply: async () => {
        seenAtApply = await statuses(ledger);
      },
    });
    const summary = await applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" });
    expect(seenAtApply).toEqual(["up:started"]);
    const { records } = await ledger.read();
    expect(records.map((r) => [r.id, r.status])).toEqual([
      [summary.deploymentId, "started"],
      [summary.deploymentId, "succeeded"],
    ]);
    expect(records[0]!.unit).toBe(records[1]!.unit);
    expect(records[1]!.endedAt).toEqual(expect.any(String));
    expect(await ledger.verify()).toMatchObject({ records: 2, anchor: "ok" });
  });

  it("gives hooks the deployment id, environment, target and action", async () => {
    const { ledger, ctx, root } = setup();
    fakeBackend();
    const hook = {
      run: 'echo "$KAUPANG_ACTION $KAUPANG_ENVIRONMENT@$KAUPANG_TARGET $KAUPANG_DEPLOYMENT_ID" > hook.txt',
      cwd: root,
      env: {},
    };
    const summary = await applyUnit(unit("a", { beforeUp: [hook] }), {
      ctx,
      ledger,
      backendImpl,
      action: "up",
    });
    expect(readFileSync(join(root, "hook.txt"), "utf8").trim()).toBe(`up api@local ${summary.deploymentId}`);
  });

  it("records failed with the step, and masks secret values in the error", async () => {
    const { ledger, ctx, root } = setup();
    fakeBackend();
    addSecretValues(["hunter2-secret"]);
    const hook = { run: "echo token=hunter2-secret >&2; exit 3", cwd: root, env: {} };
    await expect(
      applyUnit(unit("a", { afterUp: [hook] }), { ctx, ledger, backendImpl, action: "up" }),
    ).rejects.toThrow("afterUp hook failed (exit 3): echo token=hunter2-secret >&2; exit 3 — token=***");
    const last = (await ledger.read()).records.at(-1)!;
    expect(last).toMatchObject({ status: "failed", failedStep: "hook" });
    expect(last.error).not.toContain("hunter2-secret");
    expect(last.error).toContain("token=***");
  });

  it("records interrupted when Ctrl-C stops it, and fails with the signal's exit code", async () => {
    const { ledger, ctx } = setup();
    fakeBackend({
      onApply: async () => {
        interrupt("SIGINT");
        throw new Error("docker compose up was stopped (SIGTERM)");
      },
    });
    await expect(applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" })).rejects.toMatchObject({
      code: "ERR_INTERRUPTED",
      exitCode: 130,
      message: expect.stringMatching(
        /^interrupted \(SIGINT\) while deploying api \(\S+, recorded as interrupted\)$/,
      ),
    });
    const last = (await ledger.read()).records.at(-1)!;
    expect(last).toMatchObject({ status: "interrupted", failedStep: "apply" });
    // A late recordInterrupted (the CLI's watchdog) adds nothing: the outcome is written once.
    await recordInterrupted("late");
    expect(await statuses(ledger)).toEqual(["up:started", "up:interrupted"]);
  });

  it("an interrupt that cannot wait for the deploy to unwind still records it", async () => {
    const { ledger, ctx } = setup();
    let release: () => void = () => {};
    fakeBackend({ onApply: () => new Promise<void>((resolve) => (release = resolve)) });
    const running = applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await recordInterrupted("interrupted (SIGTERM): kaupang exited before the deploy unwound");
    expect(deployments((await ledger.read()).records)).toMatchObject([
      { status: "interrupted", error: "interrupted (SIGTERM): kaupang exited before the deploy unwound" },
    ]);
    release();
    await running;
    expect(await statuses(ledger)).toEqual(["up:started", "up:interrupted"]);
  });

  describe("with rollbackOnFailure", () => {
    it("re-applies the last succeeded unit, records both, says what it restored, and still fails", async () => {
      const { ledger, ctx, events } = setup();
      const backend = fakeBackend({ failing: ["b"] });
      const first = await applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" });
      const failure = applyUnit(unit("b"), {
        ctx,
        ledger,
        backendImpl,
        action: "up",
        rollbackOnFailure: true,
      });
      await expect(failure).rejects.toThrow(
        new RegExp(
          `^web did not become healthy \\(b\\); rolled back to ${first.deploymentId} \\(recorded as \\S+\\)$`,
        ),
      );
      expect(backend.applied).toEqual(["a", "b", "a"]);
      expect(backend.runs()).toBe("a");
      const merged = deployments((await ledger.read()).records);
      expect(merged.map((r) => [r.action, r.status])).toEqual([
        ["up", "succeeded"],
        ["up", "failed"],
        ["rollback", "succeeded"],
      ]);
      expect(merged[2]).toMatchObject({ rollbackOf: first.deploymentId, trigger: merged[1]!.id });
      const warnings = events
        .filter((e) => e.type === "warning")
        .map((e) => ("message" in e ? e.message : ""));
      expect(warnings).toEqual([
        `deploy ${merged[1]!.id} failed: rolling back to ${first.deploymentId} (web r/web:latest (sha256:aaaaaaaaaaaa))`,
        `restored ${first.deploymentId} as ${merged[2]!.id}: web r/web:latest (sha256:aaaaaaaaaaaa)`,
      ]);
    });

    it("says so when there is nothing to roll back to, or nothing was applied", async () => {
      const { ledger, ctx, root } = setup();
      fakeBackend({ failing: ["b"] });
      await expect(
        applyUnit(unit("b"), { ctx, ledger, backendImpl, action: "up", rollbackOnFailure: true }),
      ).rejects.toThrow("web did not become healthy (b); no earlier succeeded deploy to roll back to");
      await applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" });
      const hook = { run: "exit 1", cwd: root, env: {} };
      await expect(
        applyUnit(unit("c", { beforeUp: [hook] }), {
          ctx,
          ledger,
          backendImpl,
          action: "up",
          rollbackOnFailure: true,
        }),
      ).rejects.toThrow("nothing was applied, so nothing was rolled back");
      expect(deployments((await ledger.read()).records).map((r) => r.status)).toEqual([
        "failed",
        "succeeded",
        "failed",
      ]);
    });

    it("on a site with rollback bounds restores the latest allowed deploy, not what ran last", async () => {
      const { ledger, ctx, events } = setup();
      const backend = fakeBackend({ failing: ["c"] });
      const carried = { solution: "shop@1.0.0", digest: digest("d"), signer: "k" };
      const bounds = {
        allows: (r: { bundle?: { signer?: string } }) => r.bundle?.signer === "k",
        refusal: "was not signed by k",
      };
      const first = await applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up", bundle: carried });
      const loose = await applyUnit(unit("b"), { ctx, ledger, backendImpl, action: "up" });
      await expect(
        applyUnit(unit("c"), {
          ctx,
          ledger,
          backendImpl,
          action: "up",
          bundle: carried,
          rollbackOnFailure: true,
          bounds,
        }),
      ).rejects.toThrow(
        new RegExp(
          `^web did not become healthy \\(c\\); rolled back to ${first.deploymentId} \\(recorded as \\S+\\)$`,
        ),
      );
      expect(backend.applied).toEqual(["a", "b", "c", "a"]);
      expect(backend.runs()).toBe("a");
      const restored = deployments((await ledger.read()).records).at(-1)!;
      // The rollback carries the provenance of what it returned to, so it stays within the bounds.
      expect(restored).toMatchObject({
        action: "rollback",
        status: "succeeded",
        rollbackOf: first.deploymentId,
        bundle: carried,
      });
      expect(
        events.some(
          (e) =>
            e.type === "warning" &&
            "message" in e &&
            e.message.includes(`not to ${loose.deploymentId}, which was not signed by k`),
        ),
      ).toBe(true);
    });

    it("on a site with rollback bounds restores nothing when no deploy is allowed, and says why", async () => {
      const { ledger, ctx } = setup();
      const backend = fakeBackend({ failing: ["c"] });
      const bounds = {
        allows: (r: { bundle?: unknown }) => r.bundle !== undefined,
        refusal: "was not carried in by a verified bundle",
      };
      const loose = await applyUnit(unit("b"), { ctx, ledger, backendImpl, action: "up" });
      await expect(
        applyUnit(unit("c"), { ctx, ledger, backendImpl, action: "up", rollbackOnFailure: true, bounds }),
      ).rejects.toThrow(
        `web did not become healthy (c); nothing was rolled back: no earlier succeeded deploy is within this site's rollback bounds (${loose.deploymentId} was not carried in by a verified bundle)`,
      );
      expect(backend.applied).toEqual(["b", "c"]);
      expect(deployments((await ledger.read()).records).map((r) => `${r.action}:${r.status}`)).toEqual([
        "up:succeeded",
        "up:failed",
      ]);
    });

    it("reports a rollback that fails too", async () => {
      const { ledger, ctx } = setup();
      fakeBackend({ failing: ["b"] });
      await applyUnit(unit("a"), { ctx, ledger, backendImpl, action: "up" });
      fakeBackend({ failing: ["a", "b"] });
      await expect(
        applyUnit(unit("b"), { ctx, ledger, backendImpl, action: "up", rollbackOnFailure: true }),
      ).rejects.toThrow(/; the rollback to \S+ failed too: web did not become healthy \(a\)$/);
    });
  });
});
