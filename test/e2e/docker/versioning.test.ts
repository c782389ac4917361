import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { baseImage, httpService, project, pushVersion, sleeper } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";

const fresh = projectNames("ver");
const temp: string[] = [];
beforeAll(requireDocker);
afterAll(() => {
  temp.forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});

/** Registry digests of the image the compose container of a service runs. */
function runningDigest(container: string): string {
  const image = sh(["docker", "inspect", "-f", "{{.Image}}", container]).out;
  return sh(["docker", "image", "inspect", "-f", "{{range .RepoDigests}}{{.}} {{end}}", image]).out;
}

/** The deploys of env@target, one entry each: a started record and its outcome (same id) are one deploy. */
const ledgerOf = (dir: string, env: string, target = "local") => {
  const deploys = new Map<string, Record<string, string>>();
  for (const line of readFileSync(join(dir, ".kaupang/ledger", `${env}@${target}.jsonl`), "utf8")
    .trim()
    .split("\n")) {
    const record = JSON.parse(line);
    deploys.set(record.id, record);
  }
  return [...deploys.values()];
};

function emptyDockerConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-docker-config-"));
  temp.push(dir);
  mkdirSync(join(dir, "cli-plugins"));
  symlinkSync(join(homedir(), ".docker/cli-plugins/docker-compose"), join(dir, "cli-plugins/docker-compose"));
  return dir;
}

describe("versioning: resolve, pin, record, roll back (real engine and registry)", () => {
  it("pins each deploy to the digest the tag had, and rolls back and forth by replay", async () => {
    const name = fresh();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/app:latest`;
    const dir = project(name, { app: { services: { web: sleeper({ image: ref }) } } });
    const container = `${name}-app-web-1`;

    const first = pushVersion(ref, "one");
    const up1 = await kaupang(["up", "app", "--output", "json", "--cwd", dir]);
    expect(up1.code, up1.stderr).toBe(0);
    const out1 = JSON.parse(up1.stdout);
    expect(out1).toMatchObject({ project: name, target: "local", backend: "compose" });
    expect(out1.deployments[0].images).toEqual([{ service: "web", ref, digest: first, pinned: true }]);
    expect(readFileSync(join(dir, ".kaupang/local/app.compose.yaml"), "utf8")).toContain(
      `image: "${ref.replace(":latest", "")}@${first}"`,
    );
    expect(runningDigest(container)).toContain(first);

    const second = pushVersion(ref, "two");
    expect(second).not.toBe(first);
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    expect(runningDigest(container)).toContain(second);
    expect(sh(["docker", "exec", container, "cat", "/www/version"]).out).toBe("two");

    const back = await kaupang(["rollback", "app", "--cwd", dir]);
    expect(back.code, back.stderr).toBe(0);
    expect(sh(["docker", "exec", container, "cat", "/www/version"]).out).toBe("one");
    expect(runningDigest(container)).toContain(first);

    const forth = await kaupang(["rollback", "app", "--cwd", dir]);
    expect(forth.code, forth.stderr).toBe(0);
    expect(sh(["docker", "exec", container, "cat", "/www/version"]).out).toBe("two");

    const list = await kaupang(["rollback", "app", "--list", "--cwd", dir]);
    expect(list.code).toBe(0);
    const rows = list.stdout.trim().split("\n").slice(1);
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r.trim().split(/\s{2,}/)[2])).toEqual([
      "up",
      "up",
      `rollback → ${out1.deployments[0].deploymentId}`,
      expect.stringMatching(/^rollback → /),
    ]);
    expect(list.stdout).toContain(`web=${first.slice(7, 19)}`);
    expect(list.stdout).toContain(`web=${second.slice(7, 19)}`);
    const verify = await kaupang(["ledger", "verify", "--cwd", dir]);
    expect(verify.stdout).toBe("app@local: 8 records, chain intact, head anchor matches\n");
  });

  it("a tag that does not exist fails naming service and ref, deploys nothing, and is recorded", async () => {
    const name = fresh();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/nothing:1`;
    const dir = project(name, { app: { services: { web: sleeper({ image: ref }) } } });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`error: app.web: image ${ref} does not exist in its registry`);
    expect(sh(["docker", "ps", "-aq", "--filter", `label=dev.kaupang.project=${name}`]).out).toBe("");
    expect(ledgerOf(dir, "app").map((r) => [r.status, r.failedStep])).toEqual([["failed", "resolve"]]);
  });

  it("resolves against the auth registry with the user's docker login, and fails clearly without", async () => {
    const name = fresh();
    const config = emptyDockerConfig();
    const env = { DOCKER_CONFIG: config };
    const registry = process.env.KAUPANG_TEST_AUTH_REGISTRY!;
    const login = sh(
      ["docker", "login", registry, "-u", process.env.KAUPANG_TEST_AUTH_USER!, "--password-stdin"],
      {
        env,
        input: process.env.KAUPANG_TEST_AUTH_PASSWORD!,
      },
    );
    expect(login.code, login.err).toBe(0);
    const ref = `${registry}/${name}/private:1`;
    const digest = pushVersion(ref, "private", env);
    const dir = project(name, { app: { services: { web: sleeper({ image: ref }) } } });

    const anonymous = await kaupang(["up", "app", "--cwd", dir], {
      env: { DOCKER_CONFIG: emptyDockerConfig() },
    });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(
      new RegExp(`error: app\\.web: image ${ref} could not be resolved \\(.*credential`),
    );
    expect(anonymous.stderr).toContain("hint: log in to the registry (docker login)");

    const up = await kaupang(["up", "app", "--output", "json", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).deployments[0].images[0].digest).toBe(digest);
  });

  it("--no-resolve deploys a local build that was never pushed, pinned by image ID", async () => {
    const name = fresh();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/local:dev`;
    const dir = project(
      name,
      { app: { services: { web: { ...sleeper(), image: ref, build: "./web" } } } },
      {},
      { "web/Dockerfile": `FROM ${baseImage()}\nRUN echo local > /www/version\n` },
    );
    expect((await kaupang(["build", "app", "--cwd", dir])).code).toBe(0);
    const resolved = await kaupang(["up", "app", "--cwd", dir]);
    expect(resolved.code).toBe(1);
    expect(resolved.stderr).toContain("does not exist in its registry");

    const up = await kaupang(["up", "app", "--no-resolve", "--output", "json", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    const id = sh(["docker", "image", "inspect", "-f", "{{.Id}}", ref]).out;
    expect(JSON.parse(up.stdout).deployments[0].images[0]).toEqual({
      service: "web",
      ref,
      digest: id,
      pinned: true,
      local: true,
    });
    expect(sh(["docker", "inspect", "-f", "{{.Image}}", `${name}-app-web-1`]).out).toBe(id);
    sh(["docker", "image", "rm", "-f", ref]);
  });

  it("records a deploy whose healthcheck fails as failed, and rollback skips it", async () => {
    const name = fresh();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/app:1`;
    pushVersion(ref, "v1");
    const good = (version: string) =>
      json({ services: { web: sleeper({ image: ref, env: { VERSION: version } }) } });
    const dir = project(name, { app: JSON.parse(good("a")) });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    writeFileSync(join(dir, "environments/app.json"), good("b"));
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    writeFileSync(
      join(dir, "environments/app.json"),
      json({
        services: {
          web: sleeper({
            image: ref,
            env: { VERSION: "c" },
            healthcheck: { test: ["CMD", "false"], interval: "1s", retries: 1 },
          }),
        },
      }),
    );
    const bad = await kaupang(["up", "app", "--cwd", dir]);
    expect(bad.code).toBe(1);
    const records = ledgerOf(dir, "app");
    expect(records.map((r) => r.status)).toEqual(["succeeded", "succeeded", "failed"]);
    expect(records[2]!.failedStep).toBe("apply");

    const back = await kaupang(["rollback", "app", "--cwd", dir]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toContain(`rolling back to ${records[1]!.id}`);
    expect(sh(["docker", "exec", `${name}-app-web-1`, "printenv", "VERSION"]).out).toBe("b");
  });

  it("serialises two ups of one environment; both records are consistent", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { web: httpService(0, { ports: [] }) } } });
    // --force: both really deploy (the second would otherwise find nothing changed).
    const [a, b] = await Promise.all([
      kaupang(["up", "app", "--force", "--cwd", dir]),
      kaupang(["up", "app", "--force", "--cwd", dir]),
    ]);
    expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
    expect(a.stderr + b.stderr).toMatch(/waiting for app@local: locked by process \d+/);
    expect(ledgerOf(dir, "app").map((r) => r.status)).toEqual(["succeeded", "succeeded"]);
    expect((await kaupang(["ledger", "verify", "app", "--cwd", dir])).stdout).toBe(
      "app@local: 4 records, chain intact, head anchor matches\n",
    );
  });

  it("survives kill -9 mid-deploy: the ledger verifies and the next up takes the stale lock over", async () => {
    const name = fresh();
    const dir = project(name, {
      app: { services: { web: sleeper() }, hooks: { beforeUp: ["sleep 30"] } },
    });
    writeFileSync(join(dir, "environments/other.json"), json({ services: { other: sleeper() } }));
    expect((await kaupang(["up", "other", "--cwd", dir])).code).toBe(0);
    const bin = join(process.cwd(), "packages/cli/bin/kaupang.mjs");
    const child = spawn(process.execPath, [bin, "up", "app", "--cwd", dir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    await new Promise<void>((resolve) =>
      child.stderr.on("data", (d) => String(d).includes("beforeUp hook") && resolve()),
    );
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("close", resolve));
    expect((await kaupang(["ledger", "verify", "--cwd", dir])).code).toBe(0);
    writeFileSync(join(dir, "environments/app.json"), json({ services: { web: sleeper() } }));
    const again = await kaupang(["up", "app", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("taking over the lock of app@local");
  });

  it("ledger verify names a record whose byte was edited", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { web: sleeper() } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    expect((await kaupang(["up", "app", "--force", "--cwd", dir])).code).toBe(0);
    const file = join(dir, ".kaupang/ledger/app@local.jsonl");
    const lines = readFileSync(file, "utf8").split("\n");
    const id = JSON.parse(lines[1]!).id as string;
    lines[1] = lines[1]!.replace('"status":"succeeded"', '"status":"unchanged"');
    writeFileSync(file, lines.join("\n"));
    const verify = await kaupang(["ledger", "verify", "--cwd", dir]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toBe(
      `error: .kaupang/ledger/app@local.jsonl line 2 (record ${id}): content does not match its hash: the record was modified\n`,
    );
    const rollback = await kaupang(["rollback", "app", "--cwd", dir]);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toContain("content does not match its hash");
  });

  it("promotes: up --from resolved.json on another target deploys the first digest without resolving", async () => {
    const name = fresh();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/app:latest`;
    const first = pushVersion(ref, "staged");
    const dir = project(name, { app: { services: { web: sleeper({ image: ref }) } } });
    const staged = await kaupang(["up", "app", "--output", "json", "--cwd", dir]);
    expect(staged.code, staged.stderr).toBe(0);
    writeFileSync(join(dir, "resolved.json"), staged.stdout);
    // Staging and prod are two engines in real life; here they share one, so free its network.
    expect((await kaupang(["down", "app", "--cwd", dir])).code).toBe(0);
    const moved = pushVersion(ref, "moved-on");
    expect(moved).not.toBe(first);

    const prod = await kaupang([
      "up",
      "app",
      "--target",
      "swarm",
      "--from",
      "resolved.json",
      "--output",
      "json",
      "--cwd",
      dir,
    ]);
    expect(prod.code, prod.stderr).toBe(0);
    expect(prod.stderr).not.toContain("resolving");
    expect(JSON.parse(prod.stdout).deployments[0].images[0].digest).toBe(first);
    const spec = sh([
      "docker",
      "service",
      "inspect",
      "-f",
      "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
      `${name}-app_web`,
    ]).out;
    expect(spec).toBe(`${ref.replace(":latest", "")}@${first}`);
  });
});
