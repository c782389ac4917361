/**
 * state: "target" on a target with hosts: each host's engine keeps that
 * host's lock, records and units (volumes, never mounted), so a second agent
 * with a fresh cacheDir sees every host's history, gets `unchanged`, and rolls
 * every host back; nothing of it is kept on the machine that deploys.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { history, ok, overlapHooks, overlapLog, secondAgent } from "../support/agents.js";
import { httpService, project, pushVersion } from "../support/fixture.js";
import {
  hostPort,
  hostProjectNames,
  leftOn,
  onHost,
  requireHosts,
  type TestHost,
  waitLanHttp,
} from "../support/hosts.js";
import { kaupang, sh } from "../support/kaupang.js";

let hosts: TestHost[] = [];
beforeAll(() => {
  hosts = requireHosts();
});
const fresh = hostProjectNames("hstate", () => hosts);

/** The state volumes of `project` on one host: "<kind> <host label>" each. */
const stateOn = (host: TestHost, name: string) =>
  onHost(host, [
    "volume",
    "ls",
    "--filter",
    `label=kaupang.dev/project=${name}`,
    "--format",
    '{{.Label "kaupang.dev/kind"}} {{.Label "kaupang.dev/host"}}',
  ])
    .out.split("\n")
    .filter(Boolean);

// The state volumes go by label after the file (hostProjectNames removes containers and networks).
const made: string[] = [];
afterAll(() => {
  for (const host of hosts)
    for (const name of made) {
      const ids = onHost(host, ["volume", "ls", "-q", "--filter", `label=kaupang.dev/project=${name}`])
        .out.split("\n")
        .filter(Boolean);
      if (ids.length > 0) onHost(host, ["volume", "rm", ...ids]);
    }
});

describe('state: "target" on a target with hosts (each host keeps its own)', () => {
  it("agent A deploys v1 and v2 to two hosts; agent B (fresh cacheDir) sees each host's history, gets unchanged, rolls every host back; A sees it", async () => {
    const name = fresh();
    made.push(name);
    const [first, second] = [hosts[1]!, hosts[2]!];
    const port = hostPort();
    const registry = process.env.KAUPANG_TEST_REGISTRY!;
    const image = (v: string) => `${registry}/${name}/web:${v}`;
    pushVersion(image("1"), "one");
    pushVersion(image("2"), "two");
    const env = (v: string) => ({ services: { web: { ...httpService(port), image: image(v) } } });
    const a = project(
      name,
      { app: env("1") },
      { targets: { fleet: { hosts: [first.url, second.url], state: "target" } } },
    );
    const run = (dir: string, ...args: string[]) => kaupang([...args, "--target", "fleet", "--cwd", dir]);
    const byHost = (records: { host?: string; action: string; status: string }[]) =>
      Object.fromEntries(
        [first, second].map((h) => [
          h.url,
          records.filter((r) => r.host === h.url).map((r) => `${r.action} ${r.status}`),
        ]),
      );

    await ok(a, "up", "app", "--target", "fleet");
    writeFileSync(join(a, "environments/app.json"), json(env("2")));
    await ok(a, "up", "app", "--target", "fleet");
    for (const host of [first, second])
      expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe("two");

    // Each host's engine holds that host's state, labelled with it; the deploying machine holds none.
    for (const host of [first, second]) {
      const objects = stateOn(host, name);
      expect(new Set(objects.map((o) => o.split(" ")[0]))).toEqual(
        new Set(["record", "head", "unit", "lock"]),
      );
      expect(new Set(objects.map((o) => o.split(" ")[1]))).toEqual(new Set([host.url]));
    }
    expect(stateOn(hosts[0]!, name)).toEqual([]);
    expect(sh(["docker", "volume", "ls", "-q", "--filter", `label=kaupang.dev/project=${name}`]).out).toBe(
      "",
    );
    expect(existsSync(join(a, ".kaupang", "ledger"))).toBe(false);
    expect(existsSync(join(a, ".kaupang", "locks"))).toBe(false);
    const deployedByA = await history(a, "app", "fleet");
    expect(byHost(deployedByA)).toEqual({
      [first.url]: ["up succeeded", "up succeeded"],
      [second.url]: ["up succeeded", "up succeeded"],
    });

    // Agent B: another working copy of the same project, its own (empty) cacheDir.
    const b = secondAgent(a);
    const seenByB = await history(b, "app", "fleet");
    expect(seenByB.map((d) => d.id).sort()).toEqual(deployedByA.map((d) => d.id).sort());
    const again = await run(b, "up", "app");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr.match(/app@[\d.]+: unchanged: nothing to apply/g), again.stderr).toHaveLength(2);
    const status = await run(b, "status", "app", "--output", "json");
    expect(status.code, status.stderr).toBe(0);
    expect(
      (JSON.parse(status.stdout) as { host: string; state: string }[]).map((s) => `${s.host} ${s.state}`),
    ).toEqual([`${first.url} ok`, `${second.url} ok`]);
    const list = await run(b, "rollback", "app", "--list");
    expect(list.code, list.stderr).toBe(0);
    for (const d of deployedByA) expect(list.stdout).toContain(d.id);
    const unlocked = await run(b, "unlock", "app");
    expect(unlocked.stdout).toBe(
      `app@fleet on ${first.url} is not locked.\napp@fleet on ${second.url} is not locked.\n`,
    );

    // B rolls every host back to v1; A (its cacheDir gone too) sees it on each host.
    const back = await run(b, "rollback", "app");
    expect(back.code, back.stderr).toBe(0);
    for (const host of [first, second])
      expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe("one");
    rmSync(join(a, ".kaupang"), { recursive: true, force: true });
    const seenByA = await history(a, "app", "fleet");
    expect(byHost(seenByA)).toEqual({
      [first.url]: ["up succeeded", "up succeeded", "up unchanged", "rollback succeeded"],
      [second.url]: ["up succeeded", "up succeeded", "up unchanged", "rollback succeeded"],
    });
    // Each host's chain, read from that host: up, up (started + outcome each), unchanged, rollback.
    const verify = await kaupang(["ledger", "verify", "--target", "fleet", "--cwd", a]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toBe(
      [first, second]
        .map((h) => `app@fleet on ${h.url}: 7 records, chain intact, head anchor matches\n`)
        .join(""),
    );

    const down = await run(a, "down", "app");
    expect(down.code, down.stderr).toBe(0);
    for (const host of [first, second]) expect(leftOn(host.context, name)).toEqual([]);
  });

  it("A and B run up at the same moment: one waits for the other's host locks, the runs never overlap, each host's chain has both", async () => {
    const name = fresh();
    made.push(name);
    const [first, second] = [hosts[1]!, hosts[2]!];
    const log = overlapLog();
    const a = project(
      name,
      { app: { services: { web: httpService(hostPort()) }, hooks: overlapHooks(log, 1) } },
      { targets: { fleet: { hosts: [first.url, second.url], state: "target" } } },
    );
    const b = secondAgent(a);
    const [ra, rb] = await Promise.all(
      [a, b].map((dir, i) =>
        kaupang(["up", "app", "--force", "--target", "fleet", "--cwd", dir], {
          env: { KAUPANG_AGENT: i === 0 ? "A" : "B" },
        }),
      ),
    );
    expect([ra!.code, rb!.code], ra!.stderr + rb!.stderr).toEqual([0, 0]);
    expect(ra!.stderr + rb!.stderr).toMatch(
      new RegExp(`waiting for app@fleet on ${first.url}: locked by process \\d+ on `),
    );
    // The hooks run around each host's apply, inside the locks: one agent's two hosts, then the other's.
    const events = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const run = (x: string, y: string) =>
      [x, x, x, x, y, y, y, y].map((g, k) => `${g} ${k % 2 ? "end" : "start"}`);
    expect([run("A", "B"), run("B", "A")]).toContainEqual(events.map(([agent, what]) => `${agent} ${what}`));
    const times = events.map(([, , ns]) => BigInt(ns!));
    for (let i = 1; i < times.length; i++) expect(times[i]! > times[i - 1]!).toBe(true);
    const verify = await kaupang(["ledger", "verify", "--target", "fleet", "--cwd", b]);
    expect(verify.stdout).toBe(
      [first, second]
        .map((h) => `app@fleet on ${h.url}: 4 records, chain intact, head anchor matches\n`)
        .join(""),
    );
    const down = await kaupang(["down", "app", "--target", "fleet", "--cwd", a]);
    expect(down.code, down.stderr).toBe(0);
  });

  it("a host that cannot be reached: one line naming the target and the host; nothing deployed on any host", async () => {
    const name = fresh();
    made.push(name);
    const [first] = [hosts[1]!];
    const port = hostPort();
    const dir = project(
      name,
      { app: { services: { web: httpService(port) } } },
      { targets: { fleet: { hosts: [first.url, "ssh://root@10.213.0.250"], state: "target" } } },
    );
    const r = await kaupang(["up", "app", "--target", "fleet", "--cwd", dir]);
    expect(r.code).toBe(1);
    const [line] = r.stderr.trim().split("\n");
    expect(line).toMatch(
      /^error: target fleet: kaupang keeps its state on the engine, and cannot reach host ssh:\/\/root@10\.213\.0\.250: .*; nothing was changed$/,
    );
    expect(leftOn(first.context, name)).toEqual([]);
  });
});
