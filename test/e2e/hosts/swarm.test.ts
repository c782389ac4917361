import { beforeAll, describe, expect, it } from "vitest";
import { httpService, project, pushVersion } from "../support/fixture.js";
import {
  dockerConfig,
  hostPort,
  hostProjectNames,
  onHost,
  requireHosts,
  type TestHost,
  waitLanHttp,
} from "../support/hosts.js";
import { kaupang } from "../support/kaupang.js";

let hosts: TestHost[] = [];
let manager: TestHost;
beforeAll(() => {
  hosts = requireHosts();
  manager = hosts.find((h) => h.context === process.env.KAUPANG_TEST_SWARM_MANAGER)!;
  expect(manager, "the swarm manager is one of the hosts").toBeDefined();
});
const fresh = hostProjectNames("msw", () => hosts);

/** Node name → running tasks of a service, as the manager sees them. */
function tasksByNode(service: string): Map<string, number> {
  const nodes = onHost(manager, [
    "service",
    "ps",
    service,
    "--filter",
    "desired-state=running",
    "--format",
    "{{.Node}} {{.CurrentState}}",
  ]).out.split("\n");
  const out = new Map<string, number>();
  for (const line of nodes) {
    const [node, state] = line.split(" ");
    if (node && state === "Running") out.set(node, (out.get(node) ?? 0) + 1);
  }
  return out;
}

const statusOf = async (dir: string, env: Record<string, string>) => {
  const r = await kaupang(["status", "app", "--target", "cluster", "--output", "json", "--cwd", dir], {
    env,
  });
  return { code: r.code, drift: r.code === 0 || r.code === 3 ? JSON.parse(r.stdout)[0].drift : r.stderr };
};

describe("a multi-node swarm (a manager and workers, each its own engine and network namespace)", () => {
  it("replicas: 3 from the auth registry spread over the nodes; status sees a task killed on a worker and a drained node", async () => {
    const name = fresh();
    const port = hostPort();
    const ref = `${process.env.KAUPANG_TEST_AUTH_REGISTRY}/${name}/web:1`;
    const loggedIn = dockerConfig(true);
    const env = { DOCKER_CONFIG: loggedIn };
    pushVersion(ref, "replicated", env);
    const dir = project(
      name,
      { app: { services: { web: { ...httpService(port), image: ref, replicas: 3 } } } },
      {
        targets: {
          cluster: {
            backend: "swarm",
            dockerContext: manager.context,
            swarm: { portMode: "host", endpointMode: "dnsrr" },
          },
        },
      },
    );
    const service = `${name}-app_web`;

    const up = await kaupang(["up", "app", "--target", "cluster", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("--with-registry-auth");
    const spread = tasksByNode(service);
    expect([...spread.values()].reduce((a, b) => a + b, 0)).toBe(3);
    expect(spread.size, `tasks by node: ${JSON.stringify([...spread])}`).toBeGreaterThanOrEqual(2);
    // Every node running a task pulled the image from the auth registry and answers on its own address.
    for (const host of hosts.filter((h) => spread.has(h.context))) {
      expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe("replicated");
    }
    expect((await statusOf(dir, env)).code).toBe(0);
    const again = await kaupang(["up", "app", "--target", "cluster", "--cwd", dir], { env });
    expect(again.stderr).toContain("app: unchanged: nothing to apply");

    // A task killed on a worker: its node says so; status, asked through the manager, sees it.
    const worker = hosts.find((h) => h !== manager && spread.has(h.context))!;
    const container = onHost(worker, [
      "ps",
      "-q",
      "--filter",
      `label=com.docker.swarm.service.name=${service}`,
    ]).out;
    expect(container).not.toBe("");
    expect(onHost(worker, ["kill", container]).code).toBe(0);
    await expect
      .poll(async () => (await statusOf(dir, env)).drift, { timeout: 15_000, interval: 500 })
      .toEqual([
        {
          service: "web",
          kind: "replicas",
          detail: expect.stringMatching(
            new RegExp(`^2/3 running; a task on ${worker.context} (failed|exited)`),
          ),
        },
      ]);
    // Swarm replaces it; status is ok again without kaupang doing anything.
    await expect
      .poll(async () => (await statusOf(dir, env)).code, { timeout: 60_000, interval: 1000 })
      .toBe(0);

    // A drained node: its task cannot go elsewhere (host-mode port taken on the others).
    const drained = hosts.find((h) => h !== manager && h !== worker) ?? worker;
    try {
      expect(onHost(manager, ["node", "update", "--availability", "drain", drained.context]).code).toBe(0);
      await expect
        .poll(async () => (await statusOf(dir, env)).drift, { timeout: 30_000, interval: 1000 })
        .toEqual(
          expect.arrayContaining([
            { service: "web", kind: "node", detail: `node ${drained.context} is drained` },
          ]),
        );
      const text = await kaupang(["status", "app", "--target", "cluster", "--cwd", dir], { env });
      expect(text.code).toBe(3);
      expect(text.stdout).toContain(`node ${drained.context} is drained`);
    } finally {
      onHost(manager, ["node", "update", "--availability", "active", drained.context]);
    }
    await expect
      .poll(async () => (await statusOf(dir, env)).code, { timeout: 60_000, interval: 1000 })
      .toBe(0);

    const down = await kaupang(["down", "app", "--target", "cluster", "--cwd", dir], { env });
    expect(down.code, down.stderr).toBe(0);
    expect(onHost(manager, ["service", "ls", "-q", "--filter", `name=${service}`]).out).toBe("");
  });

  it('state: "target" on a worker node: one line naming the target and that the engine is no swarm manager; nothing deployed', async () => {
    const name = fresh();
    const worker = hosts.find((h) => h !== manager)!;
    const dir = project(
      name,
      {
        app: {
          services: {
            web: { ...httpService(hostPort()), image: `${process.env.KAUPANG_TEST_REGISTRY}/none:1` },
          },
        },
      },
      {
        targets: {
          cluster: { backend: "swarm", dockerContext: worker.context, state: "target" },
        },
      },
    );
    // The worker is in the swarm, but refuses what only a manager may do.
    expect(
      onHost(worker, ["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]).out,
    ).toBe("active false");
    const configs = () =>
      onHost(manager, [
        "config",
        "ls",
        "--filter",
        `label=kaupang.dev/project=${name}`,
        "--format",
        "{{.Name}}",
      ]);
    const services = () =>
      onHost(manager, ["service", "ls", "--filter", `name=${name}-`, "--format", "{{.Name}}"]);
    for (const args of [
      ["up", "app"],
      ["history", "app"],
    ]) {
      const r = await kaupang([...args, "--target", "cluster", "--cwd", dir]);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines, r.stderr).toHaveLength(2);
      expect(lines[0]).toMatch(
        new RegExp(
          `^error: target cluster: kaupang keeps its state in swarm configs, but docker context ${worker.context} is not a swarm manager \\(.*not a swarm manager.*\\)${args[0] === "up" ? "; nothing was changed" : ""}$`,
        ),
      );
      expect(lines[1]).toBe(
        'hint: point the target at a manager node (dockerContext or DOCKER_HOST), promote this one (`docker node promote` on a manager), or use state: "local"',
      );
    }
    // Nothing was deployed and no state object written: the manager sees neither.
    expect(configs().code).toBe(0);
    expect(configs().out).toBe("");
    expect(services().code).toBe(0);
    expect(services().out).toBe("");
    expect(
      onHost(worker, ["ps", "-aq", "--filter", `label=com.docker.stack.namespace=${name}-app`]).out,
    ).toBe("");
  });
});
