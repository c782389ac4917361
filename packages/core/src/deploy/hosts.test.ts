/**
 * Environments side by side, and a target's hosts one after the other,
 * through the one apply path against an in-memory Backend.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { keyIdOf, readPublicKey } from "../base/signing-keys.js";
import { diff } from "../inspect/diff.js";
import { passthroughCommands } from "../inspect/passthrough.js";
import { ledgerAt } from "../ledger/ledger.js";
import { deployments } from "../ledger/record.js";
import { applyUnit } from "./apply-unit.js";
import { down } from "./down.js";
import { rollbackHosts } from "./rollback.js";
import { fakeBackend } from "./testing/fake-backend.js";
import { digest, hall } from "./testing/fixtures.js";
import { up } from "./up.js";

const h1 = "ssh://root@10.0.0.1";
const h2 = "ssh://deploy@10.0.0.2:2222";
const h3 = "ssh://10.0.0.3";

/** `count` environments that depend on nothing. */
function independent(count: number): string {
  const files: Record<string, string> = {
    "kaupang.config.json": json({ project: "wide", environments: "./environments" }),
  };
  for (let i = 1; i <= count; i++)
    files[`environments/e${i}.json`] = json({ services: { [`web${i}`]: `r/e${i}@${digest(String(i))}` } });
  return testdir(files);
}

/** One entry per deploy (a started record and its outcome are one). */
const hostRecords = async (cwd: string, env: string, host: string) =>
  deployments(
    (
      await ledgerAt(
        { cacheDir: join(cwd, ".kaupang"), remote: undefined },
        { environment: env, target: "prod", host },
      ).read()
    ).records,
  );

const withHosts = (hosts: string[], target: Record<string, unknown> = {}) =>
  hall({}, { targets: { prod: { hosts, ...target } } });

/** Hosts h1 and h2, rollbackOnFailure, and a target that requires bundles signed with a new key (its id: signer). */
function signedSite(): { cwd: string; signer: string } {
  const cwd = withHosts([h1, h2], { rollbackOnFailure: true, requireSignature: { key: "./keys/site.pub" } });
  mkdirSync(join(cwd, "keys"));
  writeFileSync(
    join(cwd, "keys/site.pub"),
    generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }),
  );
  return { cwd, signer: keyIdOf(readPublicKey(join(cwd, "keys/site.pub"), "./keys/site.pub")) };
}

describe("environments of one wave deploy side by side", () => {
  it("at most --concurrency at once; 1 keeps today's order", async () => {
    const cwd = independent(4);
    const wide = fakeBackend();
    wide.applyMs = 150;
    const environments = ["e1", "e2", "e3", "e4"];
    const started = Date.now();
    await up({ cwd, environments, backendImpl: wide, processEnv: {}, concurrency: 4 });
    expect(wide.maxConcurrent).toBe(4);
    expect(Date.now() - started).toBeLessThan(4 * 150);

    const one = fakeBackend();
    one.applyMs = 20;
    await up({ cwd, environments, backendImpl: one, processEnv: {}, concurrency: 1, force: true });
    expect(one.maxConcurrent).toBe(1);
    expect(one.calls).toEqual(["apply e1", "apply e2", "apply e3", "apply e4"]);
  });

  it("an environment starts only after those it depends on", async () => {
    const backend = fakeBackend();
    backend.applyMs = 30;
    await up({ cwd: hall(), environments: ["market"], backendImpl: backend, processEnv: {}, concurrency: 8 });
    expect(backend.calls).toEqual(["apply saga", "apply market"]);
    expect(backend.maxConcurrent).toBe(1);
  });

  it("after a failure no environment starts; the running ones finish and are recorded", async () => {
    const cwd = independent(4);
    const backend = fakeBackend();
    backend.applyMs = 100;
    backend.failApply.add("e1");
    await expect(
      up({
        cwd,
        environments: ["e1", "e2", "e3", "e4"],
        backendImpl: backend,
        processEnv: {},
        concurrency: 2,
      }),
    ).rejects.toThrow("e1: service web exited with code 1");
    // e1 fails at once while e2 (started beside it) runs on: e3 and e4 never start.
    expect([...backend.calls].sort()).toEqual(["apply e1", "apply e2"]);
    const statuses = async (env: string) =>
      deployments(
        (
          await ledgerAt(
            { cacheDir: join(cwd, ".kaupang"), remote: undefined },
            { environment: env, target: "local" },
          ).read()
        ).records,
      ).map((r) => r.status);
    expect(await statuses("e1")).toEqual(["failed"]);
    expect(await statuses("e2")).toEqual(["succeeded"]);
    expect(await statuses("e3")).toEqual([]);
    expect(await statuses("e4")).toEqual([]);
  });
});

describe("a target with hosts", () => {
  it("deploys everything to one host, then the next; one record per host, one id per environment", async () => {
    const cwd = withHosts([h1, h2]);
    const backend = fakeBackend();
    const result = await up({
      cwd,
      environments: ["market"],
      target: "prod",
      backendImpl: backend,
      processEnv: {},
    });
    expect(backend.calls).toEqual([
      `apply saga on ${h1}`,
      `apply market on ${h1}`,
      `apply saga on ${h2}`,
      `apply market on ${h2}`,
    ]);
    expect(result.deployments.map((d) => `${d.environment} ${d.host}`)).toEqual([
      `saga ${h1}`,
      `market ${h1}`,
      `saga ${h2}`,
      `market ${h2}`,
    ]);
    const [one] = await hostRecords(cwd, "market", h1);
    const [two] = await hostRecords(cwd, "market", h2);
    expect(one).toMatchObject({ host: h1, status: "succeeded" });
    expect(two).toMatchObject({ host: h2, status: "succeeded", id: one!.id });
    // Each host's unit runs against that host alone.
    const unit = await ledgerAt(
      { cacheDir: join(cwd, ".kaupang"), remote: undefined },
      { environment: "market", target: "prod", host: h2 },
    ).readUnit(two!);
    expect(unit.target).toMatchObject({ name: "prod", dockerHost: h2 });
    expect(unit.target.hosts).toBeUndefined();
  });

  it("stops at the first host that fails, naming it; the hosts before it keep the new version", async () => {
    const cwd = withHosts([h1, h2, h3]);
    const backend = fakeBackend();
    backend.failApply.add(`market on ${h2}`);
    const error = await up({
      cwd,
      environments: ["market"],
      target: "prod",
      backendImpl: backend,
      processEnv: {},
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "ERR_DEPLOY_FAILED",
      message: `host ${h2}: market: service web exited with code 1`,
      details: { host: h2 },
    });
    expect((error as { hint: string }).hint).toContain(
      `up stopped at ${h2}; done before it: ${h1}; not started: ${h3}`,
    );
    expect(backend.calls).not.toContain(`apply saga on ${h3}`);
    expect((await hostRecords(cwd, "market", h1)).map((r) => r.status)).toEqual(["succeeded"]);
    expect((await hostRecords(cwd, "market", h2)).map((r) => r.status)).toEqual(["failed"]);
    expect(await hostRecords(cwd, "market", h3)).toEqual([]);
  });

  it("with rollbackOnFailure: the failed host rolls itself back, the hosts done before it are restored, and the hint says so", async () => {
    const cwd = withHosts([h1, h2, h3], { rollbackOnFailure: true });
    const backend = fakeBackend();
    const run = { cwd, environments: ["market"], target: "prod", backendImpl: backend, processEnv: {} };
    await up(run);
    writeFileSync(
      join(cwd, "environments/market.json"),
      json({ dependsOn: "saga", services: { web: `r/web@${digest("c")}` } }),
    );
    backend.failApply.add(`market on ${h2}`);
    backend.calls.length = 0;
    const error = await up(run).catch((e: unknown) => e);
    expect(error).toMatchObject({ details: { host: h2 } });
    expect((error as Error).message).toMatch(
      /^host ssh:\/\/deploy@10\.0\.0\.2:2222: market: service web exited with code 1; rolled back to \S+/,
    );
    expect((error as { hint: string }).hint).toContain(
      `up stopped at ${h2}; done before it: ${h1}; not started: ${h3}; restored the earlier version of market on ${h1}`,
    );
    // saga was unchanged everywhere; market: the new version on h1, its failure on h2, then each restored.
    expect(backend.calls).toEqual([
      `apply market on ${h1}`,
      `apply market on ${h2}`,
      `apply market on ${h2}`,
      `apply market on ${h1}`,
    ]);
    expect(backend.applied.slice(-2).map((e) => e.images[0]!.digest)).toEqual([digest("b"), digest("b")]);
    const first = (await hostRecords(cwd, "market", h1))[0]!;
    for (const host of [h1, h2]) {
      const records = await hostRecords(cwd, "market", host);
      expect(records.map((r) => `${r.action} ${r.status}`)).toEqual([
        "up succeeded",
        host === h1 ? "up succeeded" : "up failed",
        "rollback succeeded",
      ]);
      expect(records[2]).toMatchObject({ rollbackOf: first.id, trigger: records[1]!.id });
    }
    expect((await hostRecords(cwd, "market", h3)).map((r) => r.status)).toEqual(["succeeded"]);
  });

  it("with rollbackOnFailure on a target that requires signed bundles: every host returns to the last signed deploy, past later ones from source", async () => {
    const { cwd, signer } = signedSite();
    const backend = fakeBackend();
    const run = { cwd, environments: ["market"], target: "prod", backendImpl: backend, processEnv: {} };
    await up(run);
    // What a signed bundle of the same version carried in, on each host.
    const signed = new Map<string, string>();
    for (const host of [h1, h2]) {
      const ledger = ledgerAt(
        { cacheDir: join(cwd, ".kaupang"), remote: undefined },
        { environment: "market", target: "prod", host },
      );
      const unit = await ledger.readUnit((await hostRecords(cwd, "market", host))[0]!);
      const ctx = {
        project: "hall",
        target: unit.target,
        pull: unit.pull,
        root: cwd,
        events: () => {},
        timeoutMs: 5000,
      };
      const bundle = { solution: "hall@1.0.0", digest: digest("e"), signer };
      signed.set(
        host,
        (await applyUnit(unit, { ctx, ledger, action: "up", bundle, backendImpl: backend })).deploymentId,
      );
    }
    const market = (c: string) =>
      writeFileSync(
        join(cwd, "environments/market.json"),
        json({ dependsOn: "saga", services: { web: `r/web@${digest(c)}` } }),
      );
    market("c");
    await up(run); // from source: runs on both hosts, but no signed bundle carried it in
    market("d");
    backend.failApply.add(`market on ${h2}`);
    backend.calls.length = 0;
    backend.applied.length = 0;
    const error = await up(run).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`rolled back to ${signed.get(h2)}`);
    expect((error as { hint: string }).hint).toContain(`restored the earlier version of market on ${h1}`);
    expect(backend.calls).toEqual([
      `apply market on ${h1}`,
      `apply market on ${h2}`,
      `apply market on ${h2}`,
      `apply market on ${h1}`,
    ]);
    // Both hosts run the signed b again, not c, which ran before the failed run.
    expect(backend.applied.map((e) => e.images[0]!.digest)).toEqual([
      digest("d"),
      digest("d"),
      digest("b"),
      digest("b"),
    ]);
    for (const host of [h1, h2]) {
      const last = (await hostRecords(cwd, "market", host)).at(-1)!;
      expect(last).toMatchObject({
        action: "rollback",
        status: "succeeded",
        rollbackOf: signed.get(host),
        bundle: { signer },
      });
    }
  });

  it("with rollbackOnFailure on a target that requires signed bundles: nothing signed ran, nothing is restored, and it says why", async () => {
    const { cwd } = signedSite();
    const backend = fakeBackend();
    const run = { cwd, environments: ["market"], target: "prod", backendImpl: backend, processEnv: {} };
    await up(run);
    const before = (await hostRecords(cwd, "market", h1))[0]!.id;
    writeFileSync(
      join(cwd, "environments/market.json"),
      json({ dependsOn: "saga", services: { web: `r/web@${digest("c")}` } }),
    );
    backend.failApply.add(`market on ${h2}`);
    backend.calls.length = 0;
    const error = (await up(run).catch((e: unknown) => e)) as Error & { hint: string };
    expect(error.message).toMatch(
      /; nothing was rolled back: no earlier succeeded deploy is within this site's rollback bounds \(\S+ was not carried in by a bundle signed with \.\/keys\/site\.pub \(sha256:[0-9a-f]{64}\), which target prod requires\)$/,
    );
    expect(error.hint).toContain(
      `not restored: market on ${h1} (nothing within this site's rollback bounds ran there before: ${before} was not carried in by a bundle signed with ./keys/site.pub`,
    );
    expect(backend.calls).toEqual([`apply market on ${h1}`, `apply market on ${h2}`]);
  });

  it("--hosts limits a run (by URL or host name); an unknown host is an error before anything runs", async () => {
    const cwd = withHosts([h1, h2, h3]);
    const backend = fakeBackend();
    await up({
      cwd,
      environments: ["saga"],
      target: "prod",
      hosts: ["10.0.0.3", h1],
      backendImpl: backend,
      processEnv: {},
    });
    expect(backend.calls).toEqual([`apply saga on ${h1}`, `apply saga on ${h3}`]);
    await expect(
      up({ cwd, environments: ["saga"], target: "prod", hosts: ["10.9.9.9"], backendImpl: backend }),
    ).rejects.toThrow(`--hosts: "10.9.9.9" is not a host of target "prod"; its hosts: ${h1}, ${h2}, ${h3}`);
    await expect(
      up({ cwd: hall(), environments: ["saga"], hosts: [h1], backendImpl: backend }),
    ).rejects.toThrow('--hosts: target "local" has no hosts');
  });

  it("rollback and down go host by host, each from its own ledger", async () => {
    const cwd = withHosts([h1, h2]);
    const backend = fakeBackend();
    const run = { cwd, environments: ["saga"], target: "prod", backendImpl: backend, processEnv: {} };
    await up(run);
    writeFileSync(
      join(cwd, "environments/saga.json"),
      json({ services: { store: `r/store@${digest("c")}` } }),
    );
    await up(run);
    backend.calls.length = 0;
    const back = await rollbackHosts({
      cwd,
      environment: "saga",
      target: "prod",
      backendImpl: backend,
      processEnv: {},
    });
    expect(back.map((d) => d.host)).toEqual([h1, h2]);
    expect(backend.calls).toEqual([`apply saga on ${h1}`, `apply saga on ${h2}`]);
    expect(backend.applied.at(-1)!.images[0]!.digest).toBe(digest("a"));
    expect((await hostRecords(cwd, "saga", h2)).map((r) => r.action)).toEqual(["up", "up", "rollback"]);

    backend.calls.length = 0;
    await down({ cwd, environment: "saga", target: "prod", hosts: [h2], backendImpl: backend });
    expect(backend.calls).toEqual([`remove saga on ${h2}`]);
    expect((await hostRecords(cwd, "saga", h2)).at(-1)).toMatchObject({ action: "down", host: h2 });
    expect((await hostRecords(cwd, "saga", h1)).at(-1)).toMatchObject({ action: "rollback" });
  });

  it("diff, ps and logs ask each host (with --host), --hosts limiting them", async () => {
    const cwd = withHosts([h1, h2]);
    await up({
      cwd,
      environments: ["saga"],
      target: "prod",
      hosts: [h1],
      backendImpl: fakeBackend(),
      processEnv: {},
    });
    const diffs = await diff({ cwd, environments: ["saga"], target: "prod", resolve: false });
    expect(diffs.map((d) => [d.host, d.against !== undefined, d.changes.length])).toEqual([
      [h1, true, 0],
      [h2, false, 1],
    ]);
    const ps = await passthroughCommands("ps", { cwd, environment: "saga", target: "prod" });
    expect(ps.map((c) => [c.host, c.argv.slice(0, 4).join(" ")])).toEqual([
      [h1, `docker --host ${h1} compose`],
      [h2, `docker --host ${h2} compose`],
    ]);
    const logs = await passthroughCommands("logs", {
      cwd,
      environment: "saga",
      target: "prod",
      hosts: ["10.0.0.2:2222"],
    });
    expect(logs.map((c) => c.host)).toEqual([h2]);
  });

  it("hosts are for compose, without a dockerContext, each once, as ssh:// URLs", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [
        { hosts: [h1], backend: "swarm" },
        'kaupang.config.json: targets.prod.hosts: hosts are for the compose backend (one engine per host); target "prod" deploys with swarm',
      ],
      [
        { hosts: [h1], dockerContext: "x" },
        'kaupang.config.json: targets.prod.dockerContext: "x": a target has either dockerContext or hosts, not both',
      ],
      [
        { hosts: [h1], dockerHost: "ssh://root@10.0.0.9" },
        'kaupang.config.json: targets.prod.dockerHost: "ssh://root@10.0.0.9": a target has either dockerHost or hosts, not both',
      ],
      [{ hosts: [h1, h1] }, `kaupang.config.json: targets.prod.hosts[1]: "${h1}": this host is listed twice`],
      [{ hosts: ["10.0.0.1"] }, 'targets.prod.hosts[0]: "10.0.0.1": expected "ssh://[user@]host[:port]"'],
    ];
    for (const [target, message] of cases) {
      const cwd = hall({}, { targets: { prod: target } });
      await expect(
        up({ cwd, environments: ["saga"], target: "prod", backendImpl: fakeBackend(), processEnv: {} }),
      ).rejects.toThrow(message);
    }
  });
});
