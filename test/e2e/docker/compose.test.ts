import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project, sleeper } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, sh, waitHttp } from "../support/kaupang.js";

const fresh = projectNames("cmp");
const inspect = (container: string, format: string) => sh(["docker", "inspect", "-f", format, container]).out;
const containersOf = (name: string) =>
  sh(["docker", "ps", "-a", "--filter", `label=dev.kaupang.project=${name}`, "--format", "{{.Names}}"])
    .out.split("\n")
    .filter(Boolean);

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const path = join(dir, f);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

beforeAll(requireDocker);

describe("compose backend (real engine)", () => {
  it("deploys two services with a healthcheck, answers over HTTP, and down removes them", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, { app: { services: { web: httpService(port), sidecar: sleeper() } } });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.stderr).toContain("app: deployed");
    expect(up.stderr).toContain(`$ docker network create ${name}`);
    expect(up.code).toBe(0);
    expect(sh(["docker", "network", "inspect", "-f", "{{.Driver}}", name]).out).toBe("bridge");
    expect(inspect(`${name}-app-web-1`, "{{.State.Status}} {{.State.Health.Status}}")).toBe(
      "running healthy",
    );
    expect(inspect(`${name}-app-sidecar-1`, "{{.State.Status}}")).toBe("running");
    expect(await waitHttp(`http://127.0.0.1:${port}/`)).toMatch(/kaupang/i);

    const down = await kaupang(["down", "app", "--cwd", dir]);
    expect(down.code).toBe(0);
    expect(containersOf(name)).toEqual([]);
    expect(down.stderr).toContain(`removed unused network ${name}`);
    expect(sh(["docker", "network", "inspect", name]).code).not.toBe(0);
  });

  it("lets a dependent environment reach its dependency by service name, and keeps literal $ values", async () => {
    const name = fresh();
    const dir = project(name, {
      saga: { services: { store: httpService(await freePort()) } },
      market: {
        dependsOn: "saga",
        services: { web: sleeper({ env: { PASSWORD: "pa$$word ${NOT_A_VAR}", PLAIN: "plain" } }) },
      },
    });
    const up = await kaupang(["up", "market", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr.indexOf("saga: deployed")).toBeLessThan(up.stderr.indexOf("market: deploying"));
    const reach = sh([
      "docker",
      "exec",
      `${name}-market-web-1`,
      "wget",
      "-q",
      "-O",
      "-",
      "http://store:8080/",
    ]);
    expect(reach.code, reach.err).toBe(0);
    expect(sh(["docker", "exec", `${name}-market-web-1`, "printenv", "PASSWORD"]).out).toBe(
      "pa$$word ${NOT_A_VAR}",
    );

    const downAll = await kaupang(["down", "market", "--with-deps", "--cwd", dir]);
    expect(downAll.code).toBe(0);
    expect(downAll.stderr.indexOf("market: removed")).toBeLessThan(downAll.stderr.indexOf("saga: removed"));
    expect(containersOf(name)).toEqual([]);
  });

  it("checks secrets first: a missing one deploys nothing; a present one reaches the container and no file", async () => {
    const name = fresh();
    const variable = `E2E_SECRET_${name.replace(/-/g, "_").toUpperCase()}`;
    const dir = project(name, {
      app: { services: { web: sleeper({ env: { API_KEY: { $secret: variable } } }) } },
    });
    const missing = await kaupang(["up", "app", "--cwd", dir], { env: { [variable]: undefined } });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: missing secret: ${variable} (app); nothing was deployed`);
    expect(containersOf(name)).toEqual([]);

    const value = `s3cr3t-${name}`;
    const present = await kaupang(["up", "app", "--cwd", dir], { env: { [variable]: value } });
    expect(present.code, present.stderr).toBe(0);
    expect(sh(["docker", "exec", `${name}-app-web-1`, "printenv", "API_KEY"]).out).toBe(value);
    const written = filesUnder(join(dir, ".kaupang"));
    expect(written.length).toBeGreaterThan(0);
    for (const file of written) expect(readFileSync(file, "utf8")).not.toContain(value);
    expect(present.stdout + present.stderr).not.toContain(value);
  });

  it("runs a one-shot migration to completion before the web service starts", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, {
      app: {
        services: {
          migrate: {
            image: httpService(0).image,
            runOnce: true,
            command: ["sh", "-c", "sleep 2; echo migrated"],
          },
          web: httpService(port, { dependsOn: "migrate" }),
        },
      },
    });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(inspect(`${name}-app-migrate-1`, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 0");
    const finished = Date.parse(inspect(`${name}-app-migrate-1`, "{{.State.FinishedAt}}"));
    const started = Date.parse(inspect(`${name}-app-web-1`, "{{.State.StartedAt}}"));
    expect(started).toBeGreaterThanOrEqual(finished);
    expect(sh(["docker", "logs", `${name}-app-migrate-1`]).out).toBe("migrated");
    await waitHttp(`http://127.0.0.1:${port}/`);
  });

  it("fails the deploy when the migration exits 1, and never starts the web service", async () => {
    const name = fresh();
    const dir = project(name, {
      app: {
        services: {
          migrate: {
            image: httpService(0).image,
            runOnce: true,
            command: ["sh", "-c", "echo schema is broken; exit 1"],
          },
          web: httpService(await freePort(), { dependsOn: "migrate" }),
        },
      },
    });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("error: app: service migrate exited with code 1");
    expect(up.stderr).toContain("schema is broken");
    expect(sh(["docker", "inspect", "-f", "{{.State.Running}}", `${name}-app-web-1`]).out).not.toBe("true");
  });

  it("stops at a failing beforeUp hook with its output, deploying nothing", async () => {
    const name = fresh();
    const dir = project(name, {
      app: {
        hooks: { beforeUp: ["echo checking; echo database unreachable >&2; exit 3"] },
        services: { web: sleeper() },
      },
    });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(
      "error: app: beforeUp hook failed (exit 3): echo checking; echo database unreachable >&2; exit 3 — database unreachable",
    );
    expect(containersOf(name)).toEqual([]);
  });

  it("fails naming the service whose healthcheck never passes", async () => {
    const name = fresh();
    const dir = project(name, {
      app: {
        services: {
          web: sleeper({ healthcheck: { test: ["CMD", "false"], interval: "1s", retries: 2 } }),
        },
      },
    });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("error: app: service web is unhealthy");
    // The error ends with the command that shows the service's logs, runnable as it stands.
    expect(up.stderr).toMatch(new RegExp(`\\nhint: .*kaupang logs app web --cwd ${dir}\\n$`));
    const logs = await kaupang(["logs", "app", "web", "--tail", "5", "--cwd", dir]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stderr).toContain(`$ docker compose -p ${name}-app logs --tail 5 web`);
  });

  it("removes a service that was removed from the config", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { web: sleeper(), worker: sleeper() } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    expect(containersOf(name).sort()).toEqual([`${name}-app-web-1`, `${name}-app-worker-1`]);
    writeFileSync(join(dir, "environments/app.json"), json({ services: { web: sleeper() } }));
    const again = await kaupang(["up", "app", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(containersOf(name)).toEqual([`${name}-app-web-1`]);
  });
});
