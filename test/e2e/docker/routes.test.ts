/**
 * Routes on compose, against a real engine and a real Caddy (the harness's
 * proxy image, Debian's caddy): a routed service answers through the proxy
 * with its Host header, its URL is printed and shown; down takes only its
 * own routes out; redeploys are blue/green and drop no request under load,
 * where a plain `docker compose up` does; a new version that never becomes
 * healthy leaves the old one serving; tls internal answers over HTTPS with a
 * certificate from the proxy's local CA.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { project, pushVersion } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";
import { startLoad } from "../support/load.js";
import { admin, get, proxyFor, routedService, routeIds, run, waitAnswer } from "../support/routes.js";

const fresh = projectNames("kroute");
const proxy = proxyFor("compose");
const registry = () => process.env.KAUPANG_TEST_REGISTRY ?? "127.0.0.1:5000";
const via = `http://127.0.0.1:${proxy.httpPort}/`;
const containersOf = (name: string, service = "web") =>
  sh([
    "docker",
    "ps",
    "-a",
    "--filter",
    `label=dev.kaupang.project=${name}`,
    "--filter",
    `label=com.docker.compose.service=${service}`,
    "--format",
    "{{.Names}} {{.State}}",
  ])
    .out.split("\n")
    .filter(Boolean)
    .sort();

/** A project whose `local` target uses the test proxy (and `other` a wrong admin address). */
function routedProject(name: string, environments: Record<string, unknown>): string {
  return project(name, environments, {
    targets: {
      local: { proxy },
      other: { proxy: { ...proxy, adminAddress: "127.0.0.1:19498" } },
    },
  });
}

/** Push version `v` of the service's image under one floating tag; kaupang resolves it to a new digest each time. */
const pushWeb = (name: string, v: string) => pushVersion(`${registry()}/${name}/web:live`, v);

/**
 * Ten redeploys of the project's web service with plain `docker compose up -d --wait` of its
 * kaupang artifact with a new image each time, under a load loop on `url`.
 */
async function plainRedeploys(
  dir: string,
  projectName: string,
  imageOf: string,
  url: string,
  host: string,
  from: number,
) {
  const artifact = readFileSync(join(dir, ".kaupang/local/app.compose.yaml"), "utf8");
  const file = join(dir, "plain.compose.yaml");
  const load = startLoad({ url, host, concurrency: 2, pauseMs: 5, maxMs: 8 * 60_000 });
  for (let i = from; i < from + 10; i++) {
    const digest = pushWeb(imageOf, String(i));
    writeFileSync(file, artifact.replace(/image: .*\n/, `image: ${registry()}/${imageOf}/web@${digest}\n`));
    const args = [
      "compose",
      "-p",
      `${projectName}-app`,
      "--project-directory",
      dir,
      "-f",
      file,
      "up",
      "-d",
      "--wait",
    ];
    const compose = await run(["docker", ...args]);
    expect(compose.code, compose.err).toBe(0);
  }
  return load.stop();
}

beforeAll(requireDocker);

describe("routes on compose (real engine, real Caddy)", () => {
  it("answers through the proxy with its Host header, prints and shows the URL, and down takes only its routes out", async () => {
    const name = fresh();
    const host = `${name}.kroute.test`;
    pushWeb(name, "1");
    const dir = routedProject(name, {
      app: { services: { web: routedService(`${registry()}/${name}/web:live`, host) } },
    });

    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    const url = `http://${host}:${proxy.httpPort}/`;
    expect(up.stdout).toBe(`app: web → ${url}\n`);
    expect(up.stderr).toContain(
      `$ docker create --name ${proxy.name} --label dev.kaupang.proxy=${proxy.name}`,
    );
    expect((await get(via, host)).body).toMatch(/kaupang-test busybox/);
    // Another Host gets nothing from this route.
    expect((await get(via, "elsewhere.kroute.test")).body).toBe("");
    expect(
      sh(["docker", "inspect", "-f", '{{index .Config.Labels "dev.kaupang.proxy"}}', proxy.name]).out,
    ).toBe(proxy.name);
    // This kernel (6.x) hands connections queued on a reloading Caddy's old listener to the new one.
    expect(
      sh(["docker", "inspect", "-f", '{{index .HostConfig.Sysctls "net.ipv4.tcp_migrate_req"}}', proxy.name])
        .out,
    ).toBe("1");

    const status = await kaupang(["status", "app", "--cwd", dir]);
    expect(status.code, status.stdout).toBe(0);
    expect(status.stdout).toContain(`  web → ${url}\n`);
    const json = JSON.parse((await kaupang(["status", "app", "--output", "json", "--cwd", dir])).stdout);
    expect(json[0].urls).toEqual([{ service: "web", url }]);
    const again = await kaupang(["up", "app", "--force", "--output", "json", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).deployments[0].urls).toEqual([{ service: "web", url }]);

    // A route added by hand (kata's way: straight into the server kaupang uses) is none of kaupang's business.
    const manual = {
      match: [{ host: ["manual.kroute.test"] }],
      handle: [{ handler: "static_response", body: "by hand" }],
      terminal: true,
    };
    expect((await admin(proxy, "POST", "/config/apps/http/servers/kaupang.http/routes", manual)).status).toBe(
      200,
    );
    expect(await routeIds(proxy)).toEqual([`kaupang.${name}.app.web.0`, "(no id)"]);

    const down = await kaupang(["down", "app", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(await routeIds(proxy)).toEqual(["(no id)"]);
    expect((await get(via, "manual.kroute.test")).body).toBe("by hand");
    expect((await get(via, host)).body).toBe("");
    // A route remains, so the proxy stays — off this project's network, which is gone.
    expect(sh(["docker", "inspect", "-f", "{{.State.Running}}", proxy.name]).out).toBe("true");
    expect(sh(["docker", "network", "inspect", name]).code).not.toBe(0);

    // Once no route at all remains, the next down of a routed environment removes the proxy.
    expect((await admin(proxy, "DELETE", "/config/apps/http/servers/kaupang.http/routes/0")).status).toBe(
      200,
    );
    const last = await kaupang(["down", "app", "--cwd", dir]);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toContain(`$ docker rm -f ${proxy.name}`);
    expect(sh(["docker", "inspect", proxy.name]).code).not.toBe(0);
  });

  it("stops bad routes before anything is deployed: a host already routed elsewhere, an admin API that does not answer", async () => {
    const first = fresh();
    const second = fresh();
    const host = `${first}.kroute.test`;
    const image = `${registry()}/${first}/web:live`;
    pushWeb(first, "1");
    const a = routedProject(first, { app: { services: { web: routedService(image, host) } } });
    const b = routedProject(second, { shop: { services: { api: routedService(image, host) } } });
    expect((await kaupang(["up", "app", "--cwd", a])).code).toBe(0);

    const clash = await kaupang(["up", "shop", "--cwd", b]);
    expect(clash.code).toBe(1);
    expect(clash.stderr.split("\n").find((l) => l.startsWith("error:"))).toBe(
      `error: shop: "${host}/" (service api) is already routed by route kaupang.${first}.app.web.0 in server kaupang.http of the proxy; nothing was deployed`,
    );
    expect(containersOf(second, "api")).toEqual([]);

    const deaf = await kaupang(["up", "shop", "--target", "other", "--cwd", b]);
    expect(deaf.code).toBe(1);
    expect(deaf.stderr.split("\n").find((l) => l.startsWith("error:"))).toBe(
      `error: proxy ${proxy.name}: its admin API at http://127.0.0.1:19498 does not answer (the proxy publishes it at ${proxy.adminAddress}); nothing was deployed`,
    );
    expect(deaf.stderr).not.toMatch(/\n\s+at /);
    expect(containersOf(second, "api")).toEqual([]);
    // The first project's route still answers.
    expect((await get(via, host)).status).toBe(200);
    expect((await kaupang(["down", "app", "--cwd", a])).code).toBe(0);
  });

  it("redeploys blue/green: 10 image changes under load drop no request; plain docker compose up of the same service drops some", async () => {
    const name = fresh();
    const host = `${name}.kroute.test`;
    const image = `${registry()}/${name}/web:live`;
    pushWeb(name, "0");
    const dir = routedProject(name, { app: { services: { web: routedService(image, host) } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    await waitAnswer(via, host);

    const load = startLoad({ url: via, host, concurrency: 2, pauseMs: 5, maxMs: 8 * 60_000 });
    const started = Date.now();
    for (let i = 1; i <= 10; i++) {
      pushWeb(name, String(i));
      const up = await kaupang(["up", "app", "--cwd", dir]);
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain("blue/green: 1 new web beside 1 old");
      expect((await get(`${via}version`, host)).body.trim()).toBe(String(i));
    }
    const routed = await load.stop();
    console.log(
      `blue/green: 10 redeploys in ${((Date.now() - started) / 1000).toFixed(1)}s, ${routed.requests} requests, ${routed.failed} failed`,
    );
    expect(routed.requests).toBeGreaterThan(500);
    expect(routed.failed, JSON.stringify(routed.failures)).toBe(0);
    expect(containersOf(name)).toHaveLength(1);

    // The same service redeployed the plain way, `docker compose up` of a new image: compose
    // recreates the container in place. Reached on a published port, requests fail meanwhile;
    // behind kaupang's route (which retries a refused dial for up to 5 s) they wait instead.
    const plainName = fresh();
    const plainDir = project(plainName, {
      app: {
        services: { web: { ...routedService(image, undefined), http: undefined, ports: ["19482:8080"] } },
      },
    });
    expect((await kaupang(["up", "app", "--cwd", plainDir])).code).toBe(0);
    const direct = await plainRedeploys(plainDir, plainName, name, "http://127.0.0.1:19482/", host, 11);
    const proxied = await plainRedeploys(dir, name, name, via, host, 21);
    for (const [what, r] of [
      ["plain docker compose up, published port", direct],
      ["plain docker compose up, behind the route", proxied],
    ] as const) {
      console.log(
        `${what}: 10 redeploys in ${(r.durationMs / 1000).toFixed(1)}s, ${r.requests} requests, ${r.failed} failed ${JSON.stringify(r.failures)}, slowest answer ${r.slowestMs} ms`,
      );
    }
    console.log(`blue/green slowest answer: ${routed.slowestMs} ms`);
    expect(direct.failed).toBeGreaterThan(0);
    expect((await kaupang(["down", "app", "--cwd", plainDir])).code).toBe(0);
    expect((await kaupang(["down", "app", "--cwd", dir])).code).toBe(0);
  });

  it("a new version that never becomes healthy leaves the old one answering, and the deploy fails naming the service", async () => {
    const name = fresh();
    const host = `${name}.kroute.test`;
    const image = `${registry()}/${name}/web:live`;
    pushWeb(name, "1");
    const service = routedService(image, host);
    const dir = routedProject(name, { app: { services: { web: service } } });
    expect((await kaupang(["up", "app", "--cwd", dir])).code).toBe(0);
    const old = containersOf(name);

    pushWeb(name, "2");
    writeFileSync(
      join(dir, "environments/app.json"),
      json({
        services: {
          web: {
            ...service,
            healthcheck: {
              test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/missing"],
              interval: "1s",
              retries: 2,
            },
          },
        },
      }),
    );
    const load = startLoad({ url: via, host, concurrency: 2, pauseMs: 5, maxMs: 3 * 60_000 });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    const during = await load.stop();
    expect(up.code).toBe(1);
    expect(up.stderr).toMatch(
      /error: app: service web: its new version did not become healthy \(.*\); the old version keeps serving\n/,
    );
    expect(during.failed, JSON.stringify(during.failures)).toBe(0);
    expect(containersOf(name)).toEqual(old);
    expect((await get(`${via}version`, host)).body.trim()).toBe("1");
    const status = await kaupang(["status", "app", "--cwd", dir]);
    expect(status.code, status.stdout).toBe(0);
    expect((await kaupang(["down", "app", "--cwd", dir])).code).toBe(0);
  });

  it("tls internal answers over HTTPS with a certificate from the proxy's local CA", async () => {
    const name = fresh();
    const host = `${name}.kroute.test`;
    pushWeb(name, "1");
    const dir = routedProject(name, {
      app: { services: { web: routedService(`${registry()}/${name}/web:live`, { host, tls: "internal" }) } },
    });
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe(`app: web → https://${host}:${proxy.httpsPort}/\n`);
    const ca = (await admin(proxy, "GET", "/pki/ca/local")).body as { root_certificate: string };
    const answer = await waitAnswer(`https://127.0.0.1:${proxy.httpsPort}/`, host, {
      ca: ca.root_certificate,
    });
    expect(answer.authorized).toBe(true);
    expect(answer.issuer).toMatch(/^Caddy Local Authority/);
    expect(answer.body).toMatch(/kaupang-test busybox/);
    // Without the local CA the certificate is not trusted.
    await expect(get(`https://127.0.0.1:${proxy.httpsPort}/`, host)).rejects.toThrow(/certificate/);
    // Plain HTTP for that host is redirected to HTTPS by Caddy.
    expect((await get(via, host)).status).toBe(308);
    expect((await kaupang(["down", "app", "--cwd", dir])).code).toBe(0);
    const left = await routeIds(proxy).catch(() => []);
    expect(left.filter((id) => id.startsWith(`kaupang.${name}.`))).toEqual([]);
  });
});
