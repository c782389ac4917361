import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { baseImage, httpService, project, sleeper } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";

const fresh = projectNames("ops");
beforeAll(requireDocker);

const talker = (extra: Record<string, unknown> = {}) =>
  sleeper({ command: ["sh", "-c", "echo hello from the longhall; exec sleep 3600"], ...extra });

describe("operate without a control loop (real engine)", () => {
  it("status is 0 when all runs as deployed, 3 naming the service after a hand-made change, and up repairs it", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, {
      app: { services: { web: httpService(port, { env: { MODE: "calm" } }), worker: talker() } },
    });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    const ok = await kaupang(["status", "--cwd", dir]);
    const [head, url, ...running] = ok.stdout.trimEnd().split("\n");
    expect(head).toMatch(/^app@local: ok \(deployment \d{8}T\d{6}Z-[0-9a-f]{4}\)$/);
    expect(url).toBe(`  web → http://localhost:${port}/`);
    expect(running.sort()).toEqual([
      expect.stringMatching(
        new RegExp(`^  web: ${name}-app-web-1: running, image \\S+@sha256:[0-9a-f]{64}$`),
      ),
      expect.stringMatching(
        new RegExp(`^  worker: ${name}-app-worker-1: running, image \\S+@sha256:[0-9a-f]{64}$`),
      ),
    ]);
    expect(ok.code).toBe(0);

    sh(["docker", "stop", "-t", "1", `${name}-app-worker-1`]);
    const drifted = await kaupang(["status", "app", "--output", "json", "--cwd", dir]);
    expect(drifted.code).toBe(3);
    expect(JSON.parse(drifted.stdout)[0].drift).toEqual([
      { service: "worker", kind: "stopped", detail: "exited, not running" },
    ]);

    const repair = await kaupang(["up", "app", "--cwd", dir]);
    expect(repair.code, repair.stderr).toBe(0);
    expect(repair.stderr).toContain(
      "unchanged config, but it drifted (worker: exited, not running): applying",
    );
    expect((await kaupang(["status", "--cwd", dir])).code).toBe(0);
  });

  it("a second identical up touches nothing and says unchanged; --force applies", async () => {
    const name = fresh();
    const dir = project(name, {
      app: { services: { web: httpService(await freePort()), worker: talker() } },
    });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    const before = sh([
      "docker",
      "inspect",
      "-f",
      "{{.Id}} {{.State.StartedAt}}",
      `${name}-app-web-1`,
      `${name}-app-worker-1`,
    ]).out;
    const again = await kaupang(["up", "app", "--output", "json", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("app: unchanged: nothing to apply");
    expect(again.stderr).not.toContain("compose");
    expect(
      sh([
        "docker",
        "inspect",
        "-f",
        "{{.Id}} {{.State.StartedAt}}",
        `${name}-app-web-1`,
        `${name}-app-worker-1`,
      ]).out,
    ).toBe(before);
    const history = await kaupang(["history", "app", "--output", "json", "--cwd", dir]);
    expect(JSON.parse(history.stdout).map((r: { status: string }) => r.status)).toEqual([
      "succeeded",
      "unchanged",
    ]);
    const forced = await kaupang(["up", "app", "--force", "--cwd", dir]);
    expect(forced.stderr).toContain("compose");
    expect(forced.stderr).not.toContain("unchanged");
  });

  it("through a docker context (the docker CLI, not the engine socket): unchanged, drift, and down remove the same", async () => {
    const name = fresh();
    const dir = project(
      name,
      { app: { services: { worker: talker(), tool: sleeper() } } },
      { targets: { ctx: { dockerContext: "default" } } },
    );
    const up = await kaupang(["up", "app", "--target", "ctx", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`$ docker --context default network create ${name}`);
    const again = await kaupang(["up", "app", "--target", "ctx", "--cwd", dir]);
    expect(again.stderr).toContain("app: unchanged: nothing to apply");
    expect((await kaupang(["status", "app", "--target", "ctx", "--cwd", dir])).code).toBe(0);
    sh(["docker", "stop", "-t", "1", `${name}-app-tool-1`]);
    const drifted = await kaupang(["status", "app", "--target", "ctx", "--output", "json", "--cwd", dir]);
    expect(drifted.code).toBe(3);
    expect(JSON.parse(drifted.stdout)[0].drift).toEqual([
      { service: "tool", kind: "stopped", detail: "exited, not running" },
    ]);
    const down = await kaupang(["down", "app", "--target", "ctx", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(`removed unused network ${name}`);
    expect(sh(["docker", "network", "inspect", name]).code).not.toBe(0);
  });

  it("diff shows exactly a changed env value and a changed image tag", async () => {
    const name = fresh();
    const registry = process.env.KAUPANG_TEST_REGISTRY!;
    const tagged = `${registry}/${name}/tool:2`;
    sh(["docker", "tag", baseImage(), tagged]);
    expect(sh(["docker", "push", tagged]).code).toBe(0);
    const app = (tool: string, level: string) =>
      json({
        services: {
          web: sleeper({ env: { LEVEL: level, KEY: { $secret: "OPS_SECRET" } } }),
          tool: sleeper({ image: tool }),
        },
      });
    const dir = project(name, { app: JSON.parse(app(baseImage(), "info")) });
    expect((await kaupang(["up", "app", "--cwd", dir], { env: { OPS_SECRET: "one" } })).code).toBe(0);
    writeFileSync(join(dir, "environments/app.json"), app(tagged, "debug"));
    const d = await kaupang(["diff", "app", "--no-resolve", "--output", "json", "--cwd", dir]);
    expect(d.code, d.stderr).toBe(0);
    const [only] = JSON.parse(d.stdout);
    expect(only.changes).toEqual([
      { service: "tool", kind: "image", detail: `image ${baseImage()} → ${tagged}` },
      { service: "web", kind: "env", key: "LEVEL", detail: 'env LEVEL: "info" → "debug"' },
    ]);
    const text = await kaupang(["diff", "app", "--cwd", dir]);
    expect(text.stdout).toMatch(
      /app \(against \S+\): 2 changes\n {2}~ tool: image \S+@sha256:[0-9a-f]{64} → \S+@sha256:[0-9a-f]{64}\n {2}~ web: env LEVEL: "info" → "debug"\n/,
    );
    expect(text.stdout + text.stderr).not.toContain("one");
    const dry = await kaupang(["up", "app", "--dry-run", "--cwd", dir]);
    expect(dry.stdout).toMatch(/^Changes against the last deploy:\n {2}app \(against \S+\): 2 changes/);
  });

  it("ps and logs pass through to the backend with the generated names", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { worker: talker() } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    const ps = await kaupang(["ps", "app", "--cwd", dir]);
    expect(ps.code).toBe(0);
    expect(ps.stderr).toContain(`$ docker compose -p ${name}-app ps -a`);
    expect(ps.stdout).toContain(`${name}-app-worker-1`);
    const logs = await kaupang(["logs", "app", "worker", "--cwd", dir]);
    expect(logs.stdout).toContain("hello from the longhall");
    const unknown = await kaupang(["logs", "app", "nope", "--cwd", dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: environment app has no service "nope"; services: worker');
  });

  it("status sees a swarm service scaled down by hand", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { worker: talker() } } });
    expect((await kaupang(["up", "app", "--target", "swarm", "--cwd", dir])).code).toBe(0);
    expect((await kaupang(["status", "--target", "swarm", "--cwd", dir])).code).toBe(0);
    sh(["docker", "service", "scale", "-d", `${name}-app_worker=0`]);
    await new Promise((r) => setTimeout(r, 3000));
    const drifted = await kaupang(["status", "app", "--target", "swarm", "--output", "json", "--cwd", dir]);
    expect(drifted.code).toBe(3);
    expect(JSON.parse(drifted.stdout)[0].drift[0]).toMatchObject({ service: "worker", kind: "missing" });
  });
});
