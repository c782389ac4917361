/**
 * rollback through the one apply path, against an in-memory Backend: the unit
 * it picks after failed deploys, and units recorded by an older kaupang.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { ledgerAt, unitDigest } from "../ledger/ledger.js";
import type { DeploymentUnit, StoredUnit } from "../plan/unit.js";
import { planUp } from "./plan-up.js";
import { rollback } from "./rollback.js";
import { fakeBackend } from "./testing/fake-backend.js";
import { digest, hall, records } from "./testing/fixtures.js";
import { up } from "./up.js";

const webAt = (cwd: string, c: string) =>
  writeFileSync(
    join(cwd, "environments/market.json"),
    json({ dependsOn: "saga", services: { web: `r/web@${digest(c)}` } }),
  );

describe("rollback", () => {
  it("returns to the last succeeded deploy when later ones failed, and records the rollback", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend }); // web b
    webAt(cwd, "c");
    await up({ cwd, environments: ["market"], backendImpl: backend }); // web c: what runs
    for (const c of ["d", "e"]) {
      webAt(cwd, c);
      backend.failApply.add("market");
      await expect(up({ cwd, environments: ["market"], backendImpl: backend })).rejects.toThrow();
    }
    const before = await records(cwd, "market");
    expect(before.map((r) => r.status)).toEqual(["succeeded", "succeeded", "failed", "failed"]);

    await rollback({ cwd, environment: "market", backendImpl: backend });
    expect(backend.applied.at(-1)!.images[0]!.digest).toBe(digest("c"));
    expect((await records(cwd, "market")).at(-1)).toMatchObject({
      action: "rollback",
      status: "succeeded",
      rollbackOf: before[1]!.id,
    });
  });

  it("replays a unit recorded by an older kaupang, deriving its wave artifacts", async () => {
    const cwd = testdir({
      "kaupang.config.json": json({ project: "hall", defaultBackend: "swarm" }),
      "environments/market.json": json({
        services: {
          migrate: { image: `r/migrate@${digest("a")}`, runOnce: true },
          web: { image: `r/web@${digest("b")}`, dependsOn: "migrate" },
        },
      }),
    });
    const { plan } = await planUp({ cwd, environments: ["market"] });
    const current: DeploymentUnit = {
      project: plan.project,
      target: plan.targetSettings,
      backend: plan.backend,
      pull: plan.pull,
      environment: plan.environments[0]!,
    };
    // What the ledger held before the plan carried wave artifacts, views and swarm's re-runs.
    const { waveArtifacts, views: _views, ...old } = current.environment;
    const stored: StoredUnit = {
      ...current,
      environment: { ...old, commands: old.commands.filter((c) => !c.argv.includes("update")) },
    };
    const ledger = ledgerAt(
      { cacheDir: join(cwd, ".kaupang"), remote: undefined },
      { environment: "market", target: "local" },
    );
    const record = await ledger.append({
      id: "20250101T000000Z-0001",
      at: "2025-01-01T00:00:00.000Z",
      project: "hall",
      environment: "market",
      target: "local",
      backend: "swarm",
      action: "up",
      status: "succeeded",
      images: old.images,
      unit: await ledger.storeUnit(stored as DeploymentUnit),
    });
    expect(record.unit).not.toBe(unitDigest(current));

    const backend = fakeBackend();
    await rollback({ cwd, environment: "market", to: record.id, backendImpl: backend });
    const replayed = backend.applied[0]!;
    expect(replayed.waveArtifacts).toEqual(waveArtifacts);
    for (const wave of waveArtifacts!) {
      expect(readFileSync(join(cwd, wave.path), "utf8")).toBe(wave.content);
    }
    expect(existsSync(join(cwd, ".kaupang/local/market.stack.yaml"))).toBe(true);
    expect((await records(cwd, "market")).at(-1)).toMatchObject({ action: "rollback", status: "succeeded" });
  });
});

describe("what a rollback says", () => {
  it("ends with the deployment it rolled back to, not a new deploy", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend });
    webAt(cwd, "c");
    await up({ cwd, environments: ["market"], backendImpl: backend });
    const [first] = await records(cwd, "market");
    const events: { type: string; message?: string }[] = [];
    const result = await rollback({
      cwd,
      environment: "market",
      backendImpl: backend,
      events: (e) => events.push(e),
    });
    const done = events.filter((e) => e.type === "done").map((e) => e.message);
    expect(done).toEqual([`rolled back to ${first!.id} (recorded as ${result.deploymentId})`]);
    expect(events.find((e) => e.type === "stage")?.message).toBe(
      `rolling back to ${first!.id} on local (compose)`,
    );
  });
});
