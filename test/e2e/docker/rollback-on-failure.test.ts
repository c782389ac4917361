/**
 * up --rollback-on-failure (and rollbackOnFailure in the config) on the real
 * engine: a new version whose healthcheck fails is replaced by the last
 * succeeded one, which answers HTTP again; both deploys are recorded; exit 1.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project, pushVersion } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, waitHttp } from "../support/kaupang.js";

const fresh = projectNames("rof");
beforeAll(requireDocker);

const failingHealth = { test: ["CMD", "false"], interval: "1s", retries: 1 };

async function scenario(target: "local" | "swarm", how: "flag" | "config") {
  const name = fresh();
  const port = await freePort();
  const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/web:latest`;
  const swarm = { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" } };
  const dir = project(
    name,
    { app: { services: { web: httpService(port, { image: ref }) } } },
    how === "config"
      ? { targets: { local: { rollbackOnFailure: true }, swarm: { ...swarm, rollbackOnFailure: true } } }
      : {},
  );
  const args = ["--target", target, "--cwd", dir];
  pushVersion(ref, "one");
  const first = await kaupang(["up", "app", "--output", "json", ...args]);
  expect(first.code, first.stderr).toBe(0);
  const good = JSON.parse(first.stdout).deployments[0].deploymentId as string;
  expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("one");

  // Version two never becomes healthy.
  pushVersion(ref, "two");
  writeFileSync(
    join(dir, "environments/app.json"),
    json({ services: { web: httpService(port, { image: ref, healthcheck: failingHealth }) } }),
  );
  const bad = await kaupang([
    "up",
    "app",
    ...(how === "flag" ? ["--rollback-on-failure"] : []),
    "--timeout",
    target === "swarm" ? "30s" : "60s",
    ...args,
  ]);
  expect(bad.code, bad.stderr).toBe(1);
  expect(bad.stderr).toMatch(new RegExp(`! app: deploy \\S+ failed: rolling back to ${good} \\(web `));
  expect(bad.stderr).toMatch(new RegExp(`! app: restored ${good} as \\S+: web `));
  expect(bad.stderr).toMatch(new RegExp(`^error: .*; rolled back to ${good} \\(recorded as \\S+\\)$`, "m"));
  expect((await waitHttp(`http://127.0.0.1:${port}/version`)).trim()).toBe("one");

  const history = await kaupang(["history", "app", "--output", "json", ...args]);
  const deploys = JSON.parse(history.stdout) as Record<string, string>[];
  expect(deploys.map((d) => [d.action, d.status])).toEqual([
    ["up", "succeeded"],
    ["up", "failed"],
    ["rollback", "succeeded"],
  ]);
  expect(deploys[2]).toMatchObject({ rollbackOf: good, trigger: deploys[1]!.id });
  const list = await kaupang(["rollback", "app", "--list", ...args]);
  expect(list.stdout).toContain(`rollback → ${good} (after ${deploys[1]!.id} failed)`);
  expect((await kaupang(["ledger", "verify", ...args])).code).toBe(0);
}

describe("rollback on failure (real engine)", () => {
  it("compose, up --rollback-on-failure: the previous version answers again, two records, exit 1", async () => {
    await scenario("local", "flag");
  });

  it("swarm, rollbackOnFailure: true on the target: the same", async () => {
    await scenario("swarm", "config");
  });

  it("--no-rollback-on-failure overrides the config: the failed version stays, one failed record", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, { app: { services: { web: httpService(port) } } }, { rollbackOnFailure: true });
    expect((await kaupang(["up", "app", "--no-resolve", "--cwd", dir])).code).toBe(0);
    writeFileSync(
      join(dir, "environments/app.json"),
      json({ services: { web: httpService(port, { healthcheck: failingHealth }) } }),
    );
    const bad = await kaupang(["up", "app", "--no-resolve", "--no-rollback-on-failure", "--cwd", dir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).not.toContain("rolling back");
    const history = JSON.parse((await kaupang(["history", "app", "--output", "json", "--cwd", dir])).stdout);
    expect(history.map((d: { status: string }) => d.status)).toEqual(["succeeded", "failed"]);
  });
});
