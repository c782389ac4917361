/**
 * What a new user does in the first minutes after a deploy, on the real
 * engine: ps as JSON, logs with --tail/-t, a history that tells an env-only
 * change apart, and a rollback that says where it went.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project, sleeper } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker } from "../support/kaupang.js";

const fresh = projectNames("first");
beforeAll(requireDocker);

const talker = () => sleeper({ command: ["sh", "-c", "echo hello from the longhall; exec sleep 3600"] });

describe("after the first deploy (real engine)", () => {
  it("ps --output json names each container with its state and health; logs takes --tail and -t", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, { app: { services: { web: httpService(port), worker: talker() } } });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);

    const ps = await kaupang(["ps", "app", "--output", "json", "--cwd", dir]);
    expect(ps.code, ps.stderr).toBe(0);
    const listed = JSON.parse(ps.stdout);
    expect(listed).toMatchObject({ environment: "app", target: "local", backend: "compose" });
    expect(listed.services.map((s: { service: string }) => s.service)).toEqual(["web", "worker"]);
    const [web, worker] = listed.services;
    expect(web.instances).toHaveLength(1);
    expect(web.instances[0]).toMatchObject({
      name: `${name}-app-web-1`,
      state: "running",
      health: "healthy",
      ports: [`${port}:8080/tcp`],
    });
    expect(web.instances[0].digests[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(worker.instances[0]).toMatchObject({ name: `${name}-app-worker-1`, state: "running" });
    expect(JSON.stringify(listed)).not.toContain('"env"');

    const one = JSON.parse((await kaupang(["ps", "app", "worker", "--output", "json", "--cwd", dir])).stdout);
    expect(one.services.map((s: { service: string }) => s.service)).toEqual(["worker"]);

    const logs = await kaupang(["logs", "app", "worker", "--tail", "1", "-t", "--cwd", dir]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stderr).toBe(`$ docker compose -p ${name}-app logs --tail 1 -t worker\n`);
    // inherit: the tool wrote straight to the terminal, so nothing was captured here; the flags reached it.
  });

  it("ps --output json on swarm names each task", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { worker: talker() } } });
    const up = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    const ps = await kaupang(["ps", "app", "--target", "swarm", "--output", "json", "--cwd", dir]);
    expect(ps.code, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toMatchObject({
      environment: "app",
      target: "swarm",
      backend: "swarm",
      services: [{ service: "worker", instances: [{ name: `${name}-app_worker.1`, state: "running" }] }],
    });
    expect((await kaupang(["down", "app", "--target", "swarm", "--cwd", dir])).code).toBe(0);
  });

  it("history tells an env-only change apart, and a rollback says which deployment it went back to", async () => {
    const name = fresh();
    const port = await freePort();
    const write = (mode: string) =>
      writeFileSync(
        join(dir, "environments/app.json"),
        json({ services: { web: httpService(port, { env: { MODE: mode } }) } }),
      );
    const dir = project(name, { app: { services: { web: httpService(port, { env: { MODE: "calm" } }) } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    write("storm");
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);

    const history = await kaupang(["history", "app", "--cwd", dir]);
    const rows = history.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(/ IMAGES +CHANGES$/);
    expect(rows[1]).toMatch(/ \+web$/);
    expect(rows[2]).toMatch(/ web: env MODE$/);
    const records = JSON.parse((await kaupang(["history", "app", "--output", "json", "--cwd", dir])).stdout);
    expect(records[1].changes).toEqual([
      { service: "web", kind: "env", key: "MODE", detail: 'env MODE: "calm" → "storm"' },
    ]);

    const preview = await kaupang(["rollback", "app", "--dry-run", "--cwd", dir]);
    expect(preview.stdout).toContain(
      `Changes against the current deploy (${records[1].id}):\n  ~ web: env MODE: "storm" → "calm"\n`,
    );
    const back = await kaupang(["rollback", "app", "--cwd", dir]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(
      new RegExp(`app: rolled back to ${records[0].id} \\(recorded as \\d{8}T\\d{6}Z-[0-9a-f]{4}\\)`),
    );
    expect(back.stderr).not.toContain("deployed as");
  });
});
