/**
 * A config written for the original tool with every key it accepts
 * (test/fixtures/original-keys), deployed for real on compose and on swarm:
 * what each key means is checked on the engine, not in the file.
 */
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupProject, kaupang, requireDocker, sh, uniqueProject, waitHttp } from "../support/kaupang.js";

const work = mkdtempSync(join(tmpdir(), "kaupang-original-keys-"));
const dir = join(work, "original-keys");
cpSync(fileURLToPath(new URL("../../fixtures/original-keys", import.meta.url)), dir, {
  recursive: true,
  filter: (source) => !source.endsWith("/golden") && !source.endsWith(".kaupang"),
});
const project = uniqueProject("origkeys");
const env = { ORIGINAL_KEYS_PROJECT: project };

beforeAll(requireDocker);
afterAll(() => {
  cleanupProject(project);
  rmSync(work, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: docker inspect output
function inspect(kind: "container" | "service" | "volume" | "network", name: string): any {
  const r = sh(["docker", kind, "inspect", name]);
  if (r.code !== 0) throw new Error(`docker ${kind} inspect ${name}: ${r.err}`);
  return JSON.parse(r.out)[0];
}

const containerOf = (environment: string, service: string) =>
  sh([
    "docker",
    "ps",
    "-q",
    "--filter",
    `label=dev.kaupang.project=${project}`,
    "--filter",
    `label=dev.kaupang.environment=${environment}`,
    "--filter",
    `label=dev.kaupang.service=${service}`,
  ]).out.split("\n")[0]!;

describe("every key of the original, on the real engine", () => {
  it("compose: folder environment, name, dockerRepository, pull, networks, volumes, caps, workingDirectory, port ranges, $catalog overrides", async () => {
    const up = await kaupang(["up", "edge", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(await waitHttp("http://127.0.0.1:18110/")).toContain("<");
    const web = inspect("container", containerOf("edge", "web"));
    expect(web.Config.Image).toMatch(/^127\.0\.0\.1:5000\/kaupang-test\/busybox@sha256:[0-9a-f]{64}$/);
    expect(web.Config.WorkingDir).toBe("/www");
    expect(web.HostConfig.CapAdd).toContain("CAP_NET_ADMIN");
    expect(web.HostConfig.CapDrop).toContain("CAP_MKNOD");
    expect(Object.keys(web.HostConfig.PortBindings).sort()).toEqual(["8080/tcp", "8081/tcp"]);
    expect(web.HostConfig.PortBindings["8081/tcp"][0].HostPort).toBe("18111");
    expect(Object.keys(web.NetworkSettings.Networks).sort()).toEqual(
      [project, `${project}-edge_backend`, `${project}-edge_front`].sort(),
    );
    expect(inspect("network", `${project}-edge_front`).Labels).toMatchObject({ "dev.example/tier": "front" });
    const data = inspect("volume", `${project}-edge_data`);
    expect(data.Labels).toMatchObject({ "dev.example/purpose": "cache" });
    expect(web.Mounts.map((m: { Name?: string }) => m.Name)).toContain(`${project}-edge_data`);

    const api = await kaupang(["up", "api", "--cwd", dir], { env });
    expect(api.code, api.stderr).toBe(0);
    const store = inspect("container", containerOf("api", "store"));
    expect(store.Config.Env).toEqual(
      expect.arrayContaining(["MODE=json", "KV_SIZE=small", "LOG_LEVEL=info", "TZ=UTC"]),
    );
    expect(await waitHttp("http://127.0.0.1:18112/")).toContain("<");
    const worker = inspect("container", containerOf("api", "worker"));
    expect(worker.Config.WorkingDir).toBe("/tmp");
    expect(worker.HostConfig.CapDrop).toEqual(["ALL"]);

    for (const e of ["api", "edge"]) {
      const down = await kaupang(["down", e, "--cwd", dir], { env });
      expect(down.code, down.stderr).toBe(0);
    }
    expect(sh(["docker", "network", "inspect", `${project}-edge_backend`]).code).not.toBe(0);
  });

  it("swarm through dockerHost: networks as overlays, volumes, caps, workingDirectory, port ranges", async () => {
    const up = await kaupang(["up", "edge", "--target", "swarm", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("$ docker --host unix:///var/run/docker.sock stack deploy");
    expect(await waitHttp("http://127.0.0.1:18110/", 60_000)).toContain("<");
    const service = inspect("service", `${project}-edge_web`);
    const spec = service.Spec.TaskTemplate.ContainerSpec;
    expect(spec.Dir).toBe("/www");
    expect(spec.CapabilityAdd).toEqual(["CAP_NET_ADMIN"]);
    expect(spec.CapabilityDrop).toEqual(["CAP_MKNOD"]);
    expect(spec.Mounts.map((m: { Source: string }) => m.Source)).toContain(`${project}-edge_data`);
    expect(service.Endpoint.Ports.map((p: { PublishedPort: number }) => p.PublishedPort).sort()).toEqual([
      18110, 18111,
    ]);
    const networks = service.Spec.TaskTemplate.Networks.map(
      (n: { Target: string }) => inspect("network", n.Target).Name,
    );
    expect(networks.sort()).toEqual([project, `${project}-edge_backend`, `${project}-edge_front`].sort());
    expect(inspect("network", `${project}-edge_backend`).Driver).toBe("overlay");
    const down = await kaupang(["down", "edge", "--target", "swarm", "--cwd", dir], { env });
    expect(down.code, down.stderr).toBe(0);
  });
});
