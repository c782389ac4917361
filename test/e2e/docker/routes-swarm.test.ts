/**
 * Routes on swarm, against the harness's single-node swarm and a real Caddy:
 * the proxy runs as a swarm service (host-mode ports: this kernel has no
 * IPVS), routed services update start-first behind their healthcheck, and
 * ten image-changing redeploys under load drop no request.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { project, pushVersion } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";
import { startLoad } from "../support/load.js";
import { get, proxyFor, routedService, waitAnswer } from "../support/routes.js";

const fresh = projectNames("kroutesw");
const proxy = proxyFor("swarm");
const registry = () => process.env.KAUPANG_TEST_REGISTRY ?? "127.0.0.1:5000";
const via = `http://127.0.0.1:${proxy.httpPort}/`;

beforeAll(requireDocker);

describe("routes on swarm (real swarm, real Caddy)", () => {
  it("runs the proxy as a swarm service, redeploys start-first with no failed request, and down removes route and proxy", async () => {
    const name = fresh();
    const host = `${name}.kroute.test`;
    const image = `${registry()}/${name}/web:live`;
    pushVersion(image, "0");
    const dir = project(
      name,
      { app: { services: { web: routedService(image, host) } } },
      {
        targets: {
          swarm: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" }, proxy },
        },
      },
    );
    const up = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe(`app: web → http://${host}:${proxy.httpPort}/\n`);
    expect(
      sh(["docker", "service", "inspect", "-f", '{{index .Spec.Labels "dev.kaupang.proxy"}}', proxy.name])
        .out,
    ).toBe(proxy.name);
    expect(
      sh(["docker", "service", "inspect", "-f", "{{.Spec.UpdateConfig.Order}}", `${name}-app_web`]).out,
    ).toBe("start-first");
    await waitAnswer(via, host);

    const load = startLoad({ url: via, host, concurrency: 2, pauseMs: 5, maxMs: 10 * 60_000 });
    const started = Date.now();
    for (let i = 1; i <= 10; i++) {
      pushVersion(image, String(i));
      const again = await kaupang(["up", "app", "--target", "swarm", "--cwd", dir]);
      expect(again.code, again.stderr).toBe(0);
      expect((await get(`${via}version`, host)).body.trim()).toBe(String(i));
    }
    const result = await load.stop();
    console.log(
      `swarm start-first: 10 redeploys in ${((Date.now() - started) / 1000).toFixed(1)}s, ${result.requests} requests, ${result.failed} failed`,
    );
    expect(result.requests).toBeGreaterThan(500);
    expect(result.failed, JSON.stringify(result.failures)).toBe(0);

    const down = await kaupang(["down", "app", "--target", "swarm", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(`$ docker service rm ${proxy.name}`);
    expect(sh(["docker", "service", "inspect", proxy.name]).code).not.toBe(0);
    // down waited until the proxy's task was gone, so the project network could go too.
    expect(
      sh(["docker", "ps", "-q", "--filter", `label=com.docker.swarm.service.name=${proxy.name}`]).out,
    ).toBe("");
    expect(sh(["docker", "network", "inspect", name]).code).not.toBe(0);
  });
});
