/**
 * state: "target" on compose (engine volumes) and swarm (configs), with two
 * agents — two working copies, two cacheDirs — deploying one project: one
 * history, one lock, rollback from either side, applies that never overlap,
 * a holder killed with -9 taken over once its lease runs out, and one-line
 * errors when the engine cannot be reached.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  canUnshareHostname,
  expectNoOverlap,
  history,
  ok,
  overlapHooks,
  overlapLog,
  secondAgent,
  startElsewhere,
} from "../support/agents.js";
import { httpService, project, pushVersion } from "../support/fixture.js";
import { fail, freePort, kaupang, projectNames, requireDocker, sh, waitHttp } from "../support/kaupang.js";

const fresh = projectNames("tstate");
beforeAll(() => {
  requireDocker();
  if (!canUnshareHostname())
    fail("these tests need `unshare -u` (root) to run a second kaupang as another host");
});

const targets = {
  local: { state: "target" },
  swarm: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" }, state: "target" },
};

/** The state objects of a project on the engine: volumes for compose, configs for swarm. */
const stateObjects = (name: string, target: "local" | "swarm") =>
  sh([
    "docker",
    target === "local" ? "volume" : "config",
    "ls",
    "-q",
    "--filter",
    `label=kaupang.dev/project=${name}`,
  ])
    .out.split("\n")
    .filter(Boolean);

// The state objects go by label after the file (cleanupProject removes containers, stacks and networks).
const made: { name: string; target: "local" | "swarm" }[] = [];
afterAll(() => {
  for (const { name, target } of made) {
    const ids = stateObjects(name, target);
    if (ids.length > 0) sh(["docker", target === "local" ? "volume" : "config", "rm", ...ids]);
  }
});

describe.each(["local", "swarm"] as const)("state on the target: %s", (target) => {
  it("agent B (fresh cacheDir) sees A's deploys, gets unchanged (up, diff, a pipeline), rolls back; A sees B's rollback; no secret value on the engine", async () => {
    const name = fresh();
    made.push({ name, target });
    const port = await freePort();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/web:latest`;
    // The value reaches every kaupang this test starts through its environment.
    const value = `hidden-${Math.random().toString(36).slice(2)}`;
    process.env.TSTATE_TOKEN = value;
    const web = httpService(port, { image: ref, env: { TOKEN: { $secret: "TSTATE_TOKEN" } } });
    const pipelines = { ship: { steps: { deploy: { up: "app" } } } };
    const a = project(name, { app: { services: { web } } }, { targets, pipelines });
    const b = secondAgent(a);

    pushVersion(ref, "one");
    await ok(a, "up", "app", "--target", target);
    expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("one");
    pushVersion(ref, "two");
    await ok(a, "up", "app", "--target", target);
    expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("two");
    const deployedByA = await history(a, "app", target);
    expect(deployedByA.map((d) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
    ]);
    // Nothing of the history is in A's cacheDir: only a copy of the units.
    rmSync(join(a, ".kaupang"), { recursive: true, force: true });

    const seenByB = await history(b, "app", target);
    expect(seenByB.map((d) => d.id)).toEqual(deployedByA.map((d) => d.id));
    const unchanged = await ok(b, "up", "app", "--target", target);
    expect(unchanged).toMatch(/app: unchanged: nothing to apply/);
    const diff = await kaupang(["diff", "app", "--target", target, "--cwd", b]);
    // Against the current record: B's unchanged one, which the engine's history now ends with.
    const current = (await history(a, "app", target)).at(-1)!;
    expect(current.status).toBe("unchanged");
    expect(diff.stdout, diff.stderr).toBe(`app (against ${current.id}): no changes\n`);
    const run = await kaupang(["run", "ship", "--target", target, "--cwd", b]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/app: unchanged: nothing to apply/);
    const list = await kaupang(["rollback", "app", "--list", "--target", target, "--cwd", b]);
    expect(list.stdout).toContain(deployedByA[0]!.id);
    const dry = await kaupang(["rollback", "app", "--dry-run", "--target", target, "--cwd", b]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(deployedByA[0]!.id);
    await ok(b, "rollback", "app", "--to", deployedByA[0]!.id, "--target", target);
    expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("one");

    const seenByA = await history(a, "app", target);
    expect(seenByA.map((d) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
      ["up", "unchanged"],
      ["up", "unchanged"],
      ["rollback", "succeeded"],
    ]);
    expect(seenByA[4]!.rollbackOf).toBe(deployedByA[0]!.id);
    const status = await kaupang(["status", "app", "--target", target, "--cwd", a]);
    expect(status.stdout).toContain(`app@${target}: ok (deployment ${seenByA[4]!.id})`);
    for (const dir of [a, b]) {
      const verified = await kaupang(["ledger", "verify", "--target", target, "--cwd", dir]);
      expect(verified.stdout, verified.stderr).toBe(
        `app@${target}: 8 records, chain intact, head anchor matches\n`,
      );
    }
    // The state on the engine holds the secret's fingerprint, never its value.
    const objects = stateObjects(name, target);
    expect(objects.length).toBeGreaterThan(0);
    const inspected = sh(["docker", target === "local" ? "volume" : "config", "inspect", ...objects]).out;
    const texts = (JSON.parse(inspected) as { Labels?: object; Spec?: { Data?: string } }[]).map((o) =>
      o.Spec?.Data ? Buffer.from(o.Spec.Data, "base64").toString() : JSON.stringify(o.Labels),
    );
    expect(texts.join("\n")).toContain("TSTATE_TOKEN");
    expect(texts.join("\n")).not.toContain(value);
  });

  it("A and B deploy at the same moment: the applies never overlap, both land in one chain", async () => {
    const name = fresh();
    made.push({ name, target });
    const log = overlapLog();
    const a = project(
      name,
      { app: { services: { web: httpService(await freePort()) }, hooks: overlapHooks(log) } },
      { targets },
    );
    const b = secondAgent(a);
    const [ra, rb] = await Promise.all([
      kaupang(["up", "app", "--force", "--target", target, "--cwd", a], { env: { KAUPANG_AGENT: "A" } }),
      kaupang(["up", "app", "--force", "--target", target, "--cwd", b], { env: { KAUPANG_AGENT: "B" } }),
    ]);
    expect([ra.code, rb.code], ra.stderr + rb.stderr).toEqual([0, 0]);
    expect(ra.stderr + rb.stderr).toMatch(
      new RegExp(`waiting for app@${target}: locked by process \\d+ on `),
    );
    expectNoOverlap(log, ["A", "B"]);
    const entries = await history(b, "app", target);
    expect(entries.map((e) => e.status)).toEqual(["succeeded", "succeeded"]);
    for (const dir of [a, b]) {
      const verify = await kaupang(["ledger", "verify", "--target", target, "--cwd", dir]);
      expect(verify.stdout).toBe(`app@${target}: 4 records, chain intact, head anchor matches\n`);
    }
  });

  it("kill -9 of A holding the lock: B waits, takes over when A's lease runs out, and A's run is interrupted", async () => {
    const name = fresh();
    made.push({ name, target });
    const a = project(
      name,
      { app: { services: { web: httpService(await freePort()) }, hooks: { beforeUp: ["sleep 8"] } } },
      { targets },
    );
    const b = secondAgent(a);
    const holder = await startElsewhere(
      "agent-a",
      ["up", "app", "--target", target, "--cwd", a],
      "beforeUp hook",
      { KAUPANG_LOCK_LEASE: "4s" },
    );
    process.kill(holder.pid, "SIGKILL");
    await holder.closed;
    const began = Date.now();
    const r = await kaupang(["up", "app", "--target", target, "--cwd", b]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(3000);
    expect(r.stderr).toMatch(
      new RegExp(`waiting for app@${target}: locked by process ${holder.pid} on agent-a`),
    );
    expect(r.stderr).toMatch(
      new RegExp(
        `taking over the lock of app@${target}: process ${holder.pid} on agent-a .* has not renewed it for 4s \\(its lease expired`,
      ),
    );
    const entries = await history(a, "app", target);
    // The interrupted outcome is B's record of A's deploy: its error names A.
    expect(entries.map((e) => e.status)).toEqual(["interrupted", "succeeded"]);
    expect(entries[0]!.error).toMatch(/no outcome was recorded: process \d+ on agent-a .* ended without one/);
    expect(entries[1]!.by.host).not.toBe("agent-a");
  });
});

describe("state on the target: unlock", () => {
  it("kaupang unlock clears the lock a killed run on another host left on the engine, before its lease runs out", async () => {
    const name = fresh();
    made.push({ name, target: "local" });
    const a = project(
      name,
      { app: { services: { web: httpService(await freePort()) }, hooks: { beforeUp: ["sleep 8"] } } },
      { targets },
    );
    const b = secondAgent(a);
    const holder = await startElsewhere("agent-a", ["up", "app", "--cwd", a], "beforeUp hook", {
      KAUPANG_LOCK_LEASE: "5m",
    });
    process.kill(holder.pid, "SIGKILL");
    await holder.closed;
    // B's history shows A's deploy as running: A's lock on the engine is still there.
    expect((await history(b, "app", "local")).map((e) => [e.status, e.by.host])).toEqual([
      ["started", "agent-a"],
    ]);
    const r = await kaupang(["unlock", "app", "--cwd", b]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^app@local was locked by process ${holder.pid} on agent-a .*, on another host; kaupang cannot see whether it still runs\\.\n  deploy \\S+ had no outcome: recorded as interrupted\nLock removed\\.\n$`,
      ),
    );
    // B deploys at once: no wait for a five-minute lease.
    const up = await kaupang(["up", "app", "--cwd", b]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(/waiting for app@local/);
    const entries = await history(a, "app", "local");
    expect(entries.map((e) => e.status)).toEqual(["interrupted", "succeeded"]);
    expect(entries[0]!.error).toMatch(
      /process \d+ on agent-a .* ended without one .*closed by kaupang unlock/,
    );
  });
});

describe("state on the target: moving a local history there", () => {
  it("ledger export from local files, then import onto the engine: a fresh agent sees it, verifies it, gets unchanged", async () => {
    const name = fresh();
    made.push({ name, target: "local" });
    const port = await freePort();
    const a = project(name, { app: { services: { web: httpService(port) } } });
    await ok(a, "up", "app");
    const before = await history(a, "app", "local");
    const file = join(a, "app.ledger.json");
    const exported = await kaupang(["ledger", "export", "app", "-o", file, "--cwd", a]);
    expect(exported.stdout, exported.stderr).toBe(
      `app@local: 2 records and 1 unit from local files (.kaupang/ledger/app@local.jsonl) written to ${file} (chain verified)\n`,
    );
    // The target now keeps its state on the engine: the import goes there.
    writeFileSync(
      join(a, "kaupang.config.json"),
      JSON.stringify({
        project: name,
        environments: "./environments",
        targets: { local: { state: "target" } },
      }),
    );
    const imported = await kaupang(["ledger", "import", file, "--cwd", a]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(
      /^app@local: imported 2 records into target local \(volumes .*\); chain verified\n$/,
    );
    expect(stateObjects(name, "local").length).toBeGreaterThan(0);

    const b = secondAgent(a);
    expect((await history(b, "app", "local")).map((d) => d.id)).toEqual(before.map((d) => d.id));
    const verified = await kaupang(["ledger", "verify", "--cwd", b]);
    expect(verified.stdout, verified.stderr).toBe(
      "app@local: 2 records, chain intact, head anchor matches\n",
    );
    expect(await ok(b, "up", "app")).toMatch(/app: unchanged: nothing to apply/);
    // Importing it again adds nothing; the target's history now has B's record past the file's.
    const again = await kaupang(["ledger", "import", file, "--cwd", b]);
    expect(again.stdout, again.stderr).toMatch(/imported 0 records .* \(it had the first 2 already\)/);
  });
});

describe("state on the target: bundles", () => {
  it("a site without a config deploys bundles for a target that keeps its state there: the project's agent sees them, and the site rolls back", async () => {
    const name = fresh();
    made.push({ name, target: "local" });
    const port = await freePort();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/web:latest`;
    const solution = (version: string) => ({ shop: { version, environments: ["app"], target: "local" } });
    const a = project(
      name,
      { app: { services: { web: httpService(port, { image: ref }) } } },
      { targets, solutions: solution("1.0.0") },
    );
    pushVersion(ref, "one");
    await ok(a, "bundle", "shop", "-o", "out/v1");
    pushVersion(ref, "two");
    writeFileSync(
      join(a, "kaupang.config.json"),
      JSON.stringify({
        project: name,
        environments: "./environments",
        targets,
        solutions: solution("2.0.0"),
      }),
    );
    await ok(a, "bundle", "shop", "-o", "out/v2");

    // The site: only the bundles, in an empty directory, no config; the engine is the same target.
    const site = secondAgent(join(a, "out"));
    await ok(site, "up", "--bundle", "v1");
    await ok(site, "up", "--bundle", "v2");
    expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("two");
    // Their history is on the engine: the project's agent sees the site's deploys, none in its cacheDir.
    expect((await history(a, "app", "local")).map((d) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
    ]);
    // The site remembers where the state lives: its rollback returns to the first bundle.
    await ok(site, "rollback", "app");
    expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("one");
    expect((await history(a, "app", "local")).map((d) => d.action)).toEqual(["up", "up", "rollback"]);
  });
});

describe("state on the target: errors", () => {
  it("an engine that cannot be reached: one line naming the target and the engine; nothing deployed", async () => {
    const name = fresh();
    made.push({ name, target: "local" });
    const dir = project(name, { app: { services: { web: httpService(await freePort()) } } }, { targets });
    const r = await kaupang(["up", "app", "--cwd", dir], { env: { DOCKER_HOST: "tcp://127.0.0.1:9" } });
    expect(r.code).toBe(1);
    const [line, hint] = r.stderr.trim().split("\n");
    expect(line).toMatch(
      /^error: target local: kaupang keeps its state on the engine, and cannot reach DOCKER_HOST=tcp:\/\/127\.0\.0\.1:9: .*; nothing was changed$/,
    );
    expect(hint ?? "").toMatch(/^hint: check that `docker info` answers$/);
    expect(sh(["docker", "ps", "-aq", "--filter", `label=dev.kaupang.project=${name}`]).out).toBe("");
  });
});
