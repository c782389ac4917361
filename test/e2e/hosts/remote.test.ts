import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project, pushVersion, sleeper } from "../support/fixture.js";
import {
  dockerConfig,
  hostPort,
  hostProjectNames,
  hostsUp,
  lanGet,
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
const fresh = hostProjectNames("rmt", () => hosts);

const talker = () => sleeper({ command: ["sh", "-c", "echo hello from afar; exec sleep 3600"] });
/** The value of one env var in a container on a host. */
const envOf = (host: TestHost, container: string, key: string) =>
  onHost(host, ["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", container])
    .out.split("\n")
    .find((l) => l.startsWith(`${key}=`))
    ?.slice(key.length + 1);

describe("a remote engine over ssh (real sshd and dockerd in another network namespace)", () => {
  it("dockerContext: up, unchanged up, status, diff, logs, rollback and down all act on the remote engine only", async () => {
    const name = fresh();
    const host = hosts[1]!;
    const port = hostPort();
    const app = (mode: string) => ({
      services: { web: httpService(port, { env: { MODE: mode } }), worker: talker() },
    });
    const dir = project(name, { app: app("one") }, { targets: { remote: { dockerContext: host.context } } });
    const run = (...args: string[]) => kaupang([...args, "--cwd", dir]);

    const up = await run("up", "app", "--target", "remote");
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`$ docker --context ${host.context} compose -p ${name}-app`);
    expect(await waitLanHttp(`http://${host.address}:${port}/`)).toContain("kaupang-test busybox");
    expect(leftOn(host.context, name)).toEqual(
      expect.arrayContaining([
        `container ${name}-app-web-1`,
        `container ${name}-app-worker-1`,
        `network ${name}`,
      ]),
    );
    expect(leftOn(undefined, name), "nothing on the local engine").toEqual([]);

    // No change: the live check reads the remote engine (the local one has nothing, so a
    // check made there would see the services missing and apply again).
    const again = await run("up", "app", "--target", "remote");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("app: unchanged: nothing to apply");
    expect(again.stderr).not.toContain("compose");
    expect((await run("status", "--target", "remote")).stdout).toMatch(/^app@remote: ok \(deployment /);

    onHost(host, ["stop", "-t", "1", `${name}-app-worker-1`]);
    const drifted = await run("status", "app", "--target", "remote", "--output", "json");
    expect(drifted.code).toBe(3);
    expect(JSON.parse(drifted.stdout)[0].drift).toEqual([
      { service: "worker", kind: "stopped", detail: "exited, not running" },
    ]);
    onHost(host, ["start", `${name}-app-worker-1`]);

    writeFileSync(join(dir, "environments/app.json"), json(app("two")));
    const diff = await run("diff", "app", "--target", "remote", "--output", "json");
    expect(diff.code, diff.stderr).toBe(0);
    expect(JSON.parse(diff.stdout)[0].changes).toEqual([
      { service: "web", kind: "env", key: "MODE", detail: 'env MODE: "one" → "two"' },
    ]);
    expect((await run("up", "app", "--target", "remote")).code).toBe(0);
    expect(envOf(host, `${name}-app-web-1`, "MODE")).toBe("two");

    const logs = await run("logs", "app", "worker", "--target", "remote");
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toContain("hello from afar");

    const back = await run("rollback", "app", "--target", "remote");
    expect(back.code, back.stderr).toBe(0);
    expect(envOf(host, `${name}-app-web-1`, "MODE")).toBe("one");
    const history = await run("history", "app", "--target", "remote", "--output", "json");
    expect(
      JSON.parse(history.stdout).map((r: { action: string; status: string }) => `${r.action} ${r.status}`),
    ).toEqual(["up succeeded", "up unchanged", "up succeeded", "rollback succeeded"]);

    const down = await run("down", "app", "--target", "remote");
    expect(down.code, down.stderr).toBe(0);
    expect(leftOn(host.context, name)).toEqual([]);
    expect(lanGet(`http://${host.address}:${port}/`).code).not.toBe(0);
    expect(leftOn(undefined, name)).toEqual([]);
  });

  it("DOCKER_HOST=ssh://… on a target without a context: deploys there, not to the local socket", async () => {
    const name = fresh();
    const host = hosts[2]!;
    const port = hostPort();
    const dir = project(name, { app: { services: { web: httpService(port), worker: talker() } } });
    const env = { DOCKER_HOST: host.url };
    const run = (...args: string[]) => kaupang([...args, "--cwd", dir], { env });

    const up = await run("up", "app");
    expect(up.code, up.stderr).toBe(0);
    expect(await waitLanHttp(`http://${host.address}:${port}/`)).toContain("kaupang-test busybox");
    expect(leftOn(undefined, name), "nothing on the local engine").toEqual([]);
    expect(leftOn(host.context, name)).toContain(`container ${name}-app-web-1`);

    const again = await run("up", "app");
    expect(again.stderr).toContain("app: unchanged: nothing to apply");
    expect((await run("status", "app")).code).toBe(0);
    onHost(host, ["rm", "-f", `${name}-app-worker-1`]);
    const drifted = await run("status", "app", "--output", "json");
    expect(drifted.code).toBe(3);
    expect(JSON.parse(drifted.stdout)[0].drift).toEqual([
      { service: "worker", kind: "missing", detail: "no container or task" },
    ]);
    const repair = await run("up", "app");
    expect(repair.stderr).toContain(
      "unchanged config, but it drifted (worker: no container or task): applying",
    );
    expect(leftOn(host.context, name)).toContain(`container ${name}-app-worker-1`);

    expect((await run("down", "app")).code).toBe(0);
    expect(leftOn(host.context, name)).toEqual([]);
  });

  it("build --push builds on the remote engine and pushes from there; up pulls the pushed digest", async () => {
    const name = fresh();
    const host = hosts[1]!;
    const port = hostPort();
    const ref = `${process.env.KAUPANG_TEST_REGISTRY}/${name}/web:1`;
    const dir = project(
      name,
      {
        app: {
          services: { web: { ...httpService(port), image: ref, build: "./web" } },
        },
      },
      { targets: { remote: { dockerContext: host.context } } },
      {
        // The local base image by its local name: the remote engine has its own copy (the harness loads it).
        "web/Dockerfile": `FROM ${process.env.KAUPANG_TEST_BASE_IMAGE}\nRUN echo built-there > /www/built-on\n`,
      },
    );
    const built = await kaupang(["build", "app", "--push", "--target", "remote", "--cwd", dir]);
    expect(built.code, built.stderr).toBe(0);
    expect(onHost(host, ["image", "inspect", ref]).code, "built on the remote engine").toBe(0);
    expect(sh(["docker", "image", "inspect", ref]).code, "not on the local engine").not.toBe(0);
    const manifest = await fetch(`http://${process.env.KAUPANG_TEST_REGISTRY}/v2/${name}/web/manifests/1`, {
      method: "HEAD",
      headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" },
    });
    expect(manifest.status, "pushed to the registry").toBe(200);
    const digest = manifest.headers.get("docker-content-digest");

    // The engine must pull what was pushed: remove its copy first.
    expect(onHost(host, ["image", "rm", ref]).code).toBe(0);
    const up = await kaupang(["up", "app", "--target", "remote", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(onHost(host, ["inspect", "-f", "{{.Config.Image}}", `${name}-app-web-1`]).out).toBe(
      `${ref.replace(/:1$/, "")}@${digest}`,
    );
    expect(await waitLanHttp(`http://${host.address}:${port}/built-on`)).toBe("built-there");
    expect(leftOn(undefined, name)).toEqual([]);
  });

  it("up --bundle loads the bundle's images into the remote engine, which has no registry", async () => {
    const name = fresh();
    const host = hosts[2]!;
    const port = hostPort();
    const registry = process.env.KAUPANG_TEST_REGISTRY!;
    const ref = `${registry}/${name}/web:1`;
    pushVersion(ref, `carried ${name}`);
    const dir = project(
      name,
      { app: { services: { web: { ...httpService(port), image: ref } } } },
      {
        targets: { remote: { dockerContext: host.context } },
        solutions: { shop: { version: "1.0.0", environments: ["app"], target: "remote" } },
      },
    );
    const made = await kaupang([
      "bundle",
      "shop",
      "--target",
      "remote",
      "--with-images",
      "-o",
      "out",
      "--cwd",
      dir,
    ]);
    expect(made.code, made.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "out/bundle.json"), "utf8"));
    const ids: string[] = manifest.images.map((i: { imageId: string }) => i.imageId);
    expect(ids).toHaveLength(1);

    // The site: the remote engine without the image, and without its way to the registry.
    onHost(host, ["image", "rm", "-f", ref, ...ids]);
    expect(onHost(host, ["image", "inspect", ids[0]!]).code).not.toBe(0);
    const run = process.env.KAUPANG_HOSTS_RUN ?? "/run/kmh-hosts";
    const n = host.context.replace(/^.*-n/, "n");
    for (const port of ["5000", "5001"]) sh(["sh", "-c", `kill $(cat ${run}/${n}/registry-${port}.pid)`]);
    try {
      const noRegistry = sh([
        "nsenter",
        `--net=/run/netns/${host.context}`,
        "curl",
        "-sf",
        "-m",
        "2",
        `http://${registry}/v2/`,
      ]);
      expect(noRegistry.code, "the host reaches no registry").not.toBe(0);

      const up = await kaupang(["up", "--bundle", "out", "--target", "remote", "--cwd", dir]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain("loading 1 image from the bundle");
      expect(onHost(host, ["image", "inspect", "-f", "{{.Id}}", ids[0]!]).out).toBe(ids[0]);
      expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe(`carried ${name}`);
      expect(onHost(host, ["inspect", "-f", "{{.Image}}", `${name}-app-web-1`]).out).toBe(ids[0]);
    } finally {
      // the forwarders come back (hosts-up.sh is idempotent: only they are started)
      const restored = await hostsUp();
      expect(restored.code, restored.tail).toBe(0);
    }
    expect(leftOn(undefined, name).filter((l) => l.startsWith("container"))).toEqual([]);
  });

  it("registry auth reaches the remote engine: it pulls from the htpasswd registry with the client's login", async () => {
    const name = fresh();
    const host = hosts[1]!;
    const port = hostPort();
    const ref = `${process.env.KAUPANG_TEST_AUTH_REGISTRY}/${name}/web:1`;
    const loggedIn = dockerConfig(true);
    const digest = pushVersion(ref, `private ${name}`, { DOCKER_CONFIG: loggedIn });
    sh(["docker", "image", "rm", ref], { env: { DOCKER_CONFIG: loggedIn } });
    // Without credentials the remote engine is refused: the registry really asks.
    const anonymous = onHost(host, ["pull", ref], { DOCKER_CONFIG: dockerConfig(false) });
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.err).toMatch(/no basic auth credentials|unauthorized/);

    const dir = project(
      name,
      { app: { services: { web: { ...httpService(port), image: ref } } } },
      { targets: { remote: { dockerContext: host.context } } },
    );
    const up = await kaupang(["up", "app", "--target", "remote", "--cwd", dir], {
      env: { DOCKER_CONFIG: loggedIn },
    });
    expect(up.code, up.stderr).toBe(0);
    expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe(`private ${name}`);
    const pinned = `${ref.replace(/:1$/, "")}@${digest}`;
    expect(onHost(host, ["inspect", "-f", "{{.Config.Image}}", `${name}-app-web-1`]).out).toBe(pinned);
    expect(onHost(host, ["image", "inspect", "-f", '{{join .RepoDigests " "}}', pinned]).out).toContain(
      pinned,
    );
    expect(sh(["docker", "image", "inspect", pinned]).code, "not pulled by the local engine").not.toBe(0);
  });
});
