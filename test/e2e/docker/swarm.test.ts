import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { baseImage, httpService, project, sleeper } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, sh, waitHttp } from "../support/kaupang.js";

const fresh = projectNames("swm");
const services = (stack: string) =>
  sh([
    "docker",
    "service",
    "ls",
    "--filter",
    `label=com.docker.stack.namespace=${stack}`,
    "--format",
    "{{.Name}} {{.Replicas}}",
  ])
    .out.split("\n")
    .filter(Boolean)
    .sort();
/** The running container of a swarm service's task. */
const taskContainer = (service: string) =>
  sh(["docker", "ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`]).out.split(
    "\n",
  )[0]!;

beforeAll(requireDocker);

describe("swarm backend (real single-node swarm)", () => {
  it("deploys two services with a healthcheck, answers on the published port, and down removes the stack", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, { app: { services: { web: httpService(port), sidecar: sleeper() } } });
    const up = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(services(`${name}-app`)).toEqual([`${name}-app_sidecar 1/1`, `${name}-app_web 1/1`]);
    expect(
      sh(["docker", "inspect", "-f", "{{.State.Health.Status}}", taskContainer(`${name}-app_web`)]).out,
    ).toBe("healthy");
    expect(await waitHttp(`http://127.0.0.1:${port}/`)).toMatch(/kaupang/i);

    const down = await kaupang(["down", "app", "--target", "swarm", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(services(`${name}-app`)).toEqual([]);
    expect(sh(["docker", "ps", "-aq", "--filter", `label=com.docker.stack.namespace=${name}-app`]).out).toBe(
      "",
    );
  });

  it("through a docker context (the docker CLI, not the engine socket): waves converge, status reads tasks, down waits", async () => {
    const name = fresh();
    const dir = project(
      name,
      {
        app: {
          services: {
            migrate: { image: baseImage(), runOnce: true, command: ["sh", "-c", "echo migrated"] },
            worker: sleeper({ dependsOn: "migrate" }),
          },
        },
      },
      {
        targets: {
          ctx: {
            backend: "swarm",
            dockerContext: "default",
            swarm: { portMode: "host", endpointMode: "dnsrr" },
          },
        },
      },
    );
    const up = await kaupang(["up", "app", "--target", "ctx", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("$ docker --context default stack deploy");
    expect(services(`${name}-app`)).toEqual([`${name}-app_migrate 0/1`, `${name}-app_worker 1/1`]);
    const status = await kaupang(["status", "app", "--target", "ctx", "--output", "json", "--cwd", dir]);
    expect(status.code, status.stdout).toBe(0);
    expect(JSON.parse(status.stdout)[0].drift).toEqual([]);
    const down = await kaupang(["down", "app", "--target", "ctx", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(services(`${name}-app`)).toEqual([]);
    expect(sh(["docker", "ps", "-aq", "--filter", `label=com.docker.stack.namespace=${name}-app`]).out).toBe(
      "",
    );
  });

  it("deploys a dependent environment only after its dependency converged, and reaches it by name", async () => {
    const name = fresh();
    const slowStore = httpService(await freePort(), {
      // Becomes healthy only after a few seconds: the dependent must wait for it.
      command: ["sh", "-c", "sleep 4; exec httpd -f -p 8080 -h /www"],
    });
    const dir = project(name, {
      saga: { services: { store: slowStore } },
      market: {
        dependsOn: "saga",
        services: { web: sleeper({ env: { PASSWORD: "pa$$word ${NOT_A_VAR}" } }) },
      },
    });
    const up = await kaupang(["up", "market", "--target", "swarm", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr.indexOf("saga: deployed")).toBeGreaterThan(0);
    expect(up.stderr.indexOf("saga: deployed")).toBeLessThan(up.stderr.indexOf("market: deploying"));
    const web = taskContainer(`${name}-market_web`);
    const reach = sh(["docker", "exec", web, "wget", "-q", "-O", "-", "http://store:8080/"]);
    expect(reach.code, reach.err).toBe(0);
    expect(sh(["docker", "exec", web, "printenv", "PASSWORD"]).out).toBe("pa$$word ${NOT_A_VAR}");
  });

  it("runs a one-shot migration before the web service, and again on the next deploy", async () => {
    const name = fresh();
    const port = await freePort();
    const dir = project(name, {
      app: {
        services: {
          migrate: { image: baseImage(), runOnce: true, command: ["sh", "-c", "sleep 2; echo migrated"] },
          web: httpService(port, { dependsOn: "migrate" }),
        },
      },
    });
    const up = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("wave 1: migrate");
    const tasks = () =>
      sh(["docker", "service", "ps", `${name}-app_migrate`, "--format", "{{.CurrentState}}"])
        .out.split("\n")
        .filter(Boolean);
    expect(tasks()).toHaveLength(1);
    expect(tasks()[0]).toMatch(/^Complete/);
    await waitHttp(`http://127.0.0.1:${port}/`);

    // Nothing changed: nothing is applied, so the migration does not run again…
    const same = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(same.stderr).toContain("unchanged");
    expect(tasks()).toHaveLength(1);
    // …but every deploy that applies runs it again.
    const again = await kaupang(["up", "app", "--target", "swarm", "--force", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(tasks()).toHaveLength(2);
    expect(tasks().every((t) => t.startsWith("Complete"))).toBe(true);
  });

  it("fails when the migration exits 1 and never deploys the web service", async () => {
    const name = fresh();
    const dir = project(name, {
      app: {
        services: {
          migrate: {
            image: baseImage(),
            runOnce: true,
            command: ["sh", "-c", "echo schema is broken; exit 1"],
          },
          web: httpService(await freePort(), { dependsOn: "migrate" }),
        },
      },
    });
    const up = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("error: app: one-shot service migrate exited with code 1");
    expect(services(`${name}-app`)).toEqual([`${name}-app_migrate 0/1`]);
  });

  it("fails naming the service that never becomes healthy", async () => {
    const name = fresh();
    const dir = project(name, {
      app: {
        services: { web: sleeper({ healthcheck: { test: ["CMD", "false"], interval: "1s", retries: 1 } }) },
      },
    });
    const up = await kaupang(["up", "app", "--target", "swarm", "--timeout", "20s", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/error: app: service web did not converge within 20s \(0\/1 tasks running/);
  });

  it("reports a deploy that swarm rolled back on its own as failed", async () => {
    const name = fresh();
    const dir = project(name, {
      app: { services: { web: sleeper({ healthcheck: { test: ["CMD", "true"], interval: "1s" } }) } },
    });
    expect((await kaupang(["up", "app", "--target", "swarm", "--cwd", dir])).code).toBe(0);
    // The update's tasks fail health checks; update_config.failure_action: rollback makes swarm roll back.
    writeFileSync(
      join(dir, "environments/app.json"),
      json({
        services: {
          web: sleeper({
            env: { V: "2" },
            healthcheck: { test: ["CMD", "false"], interval: "1s", retries: 1 },
          }),
        },
      }),
    );
    const up = await kaupang(["up", "app", "--target", "swarm", "--timeout", "90s", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(/error: app: (swarm rolled back service web|service web did not converge)/);
  });

  it("prunes a service that was removed from the config", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { web: sleeper(), worker: sleeper() } } });
    expect((await kaupang(["up", "app", "--target", "swarm", "--cwd", dir])).code).toBe(0);
    writeFileSync(join(dir, "environments/app.json"), json({ services: { web: sleeper() } }));
    const again = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(services(`${name}-app`)).toEqual([`${name}-app_web 1/1`]);
  });
});
