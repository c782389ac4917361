import { Deployment } from "kubernetes-models/apps/v1";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { isKaupangError } from "../base/errors.js";
import { loadModel, loadProject } from "../config/project.js";
import { downCommands } from "./commands.js";
import { createPlan } from "./create-plan.js";

const proxy = { name: "edge", httpPort: 8000, httpsPort: 8443, adminAddress: "127.0.0.1:2999" };

async function plan(
  environments: Record<string, unknown>,
  options: { target?: string; roots?: string[] } = {},
) {
  const dir = testdir({
    "kaupang.config.json": json({
      project: "shop",
      targets: {
        local: { proxy },
        plain: {},
        sw: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" }, proxy },
        k8s: { backend: "kubernetes", proxy: { ingressClassName: "caddy" } },
      },
    }),
    ...Object.fromEntries(
      Object.entries(environments).map(([n, body]) => [`environments/${n}.json`, json(body)]),
    ),
  });
  const model = await loadModel(await loadProject(dir), {
    environments: options.roots ?? Object.keys(environments),
    target: options.target ?? "local",
    processEnv: {},
  });
  return createPlan(model);
}

/** The one-line message of what `run` throws. */
async function errorOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (!isKaupangError(error)) throw error;
    return error.message;
  }
  throw new Error("expected an error");
}

const web = (http: unknown, extra: Record<string, unknown> = {}) => ({
  image: "web:1",
  ports: ["8080"],
  http,
  ...extra,
});

describe("routes in the config", () => {
  it("defaults path, port and tls, and takes a host name as a route", async () => {
    const p = await plan({ app: { services: { web: web("Shop.Example.com") } } });
    expect(p.environments[0]!.routes).toEqual([
      {
        service: "web",
        host: "shop.example.com",
        path: "/",
        port: 8080,
        tls: "off",
        id: "kaupang.shop.app.web.0",
        url: "http://shop.example.com:8000/",
      },
    ]);
  });

  it("gives each route its URL: scheme from tls, the proxy's port unless it is the default", async () => {
    const routes = [
      { host: "a.example.com", path: "/api/", tls: "internal" },
      { host: "b.example.com", tls: "auto" },
    ];
    const urls = (target: string) =>
      plan({ app: { services: { web: web(routes) } } }, { target }).then((p) =>
        p.environments[0]!.routes!.map((r) => r.url),
      );
    expect(await urls("local")).toEqual(["https://a.example.com:8443/api", "https://b.example.com:8443/"]);
    expect(await urls("plain")).toEqual(["https://a.example.com/api", "https://b.example.com/"]);
    expect(await urls("k8s")).toEqual(["https://a.example.com/api", "https://b.example.com/"]);
  });

  it("rejects a route to a port the service does not expose, naming file, field and value", async () => {
    expect(
      await errorOf(() => plan({ app: { services: { web: web({ host: "a.example.com", port: 9090 }) } } })),
    ).toBe(
      'environments/app.json: services.web.http.port: 9090 is not a port the service exposes (its ports: 8080); add "9090" to ports to expose it',
    );
    expect(
      await errorOf(() => plan({ app: { services: { web: { image: "w", http: "a.example.com" } } } })),
    ).toMatch(/^environments\/app\.json: services\.web\.http: a route needs a port the service exposes/);
    expect(
      await errorOf(() =>
        plan({ app: { services: { web: web("a.example.com", { ports: ["80", "443"] }) } } }),
      ),
    ).toMatch(/services\.web\.http: the service exposes ports 80, 443: say which one/);
  });

  it("rejects two services claiming the same host and path, across environments too", async () => {
    expect(
      await errorOf(() =>
        plan({
          app: { services: { web: web("a.example.com"), api: web({ host: "a.example.com", path: "/" }) } },
        }),
      ),
    ).toBe(
      'environments/app.json: services.web.http: "a.example.com/" is already routed to service api; each host and path goes to one service',
    );
    expect(
      await errorOf(() =>
        plan({
          app: { dependsOn: "base", services: { web: web("a.example.com") } },
          base: { services: { api: web("a.example.com") } },
        }),
      ),
    ).toMatch(
      /^environments\/app\.json: services\.web\.http: "a\.example\.com\/" is already routed to service api \(environments\/base\.json\)/,
    );
    // Other paths of one host are separate routes.
    const p = await plan({
      app: { services: { web: web("a.example.com"), api: web({ host: "a.example.com", path: "/api" }) } },
    });
    expect(p.environments[0]!.routes!.map((r) => `${r.host}${r.path}`)).toEqual([
      "a.example.com/api",
      "a.example.com/",
    ]);
  });

  it("rejects bad hosts and paths, and a routed one-shot service", async () => {
    expect(await errorOf(() => plan({ app: { services: { web: web("not a host") } } }))).toMatch(
      /services\.web\.http: "not a host" is not a host name/,
    );
    expect(
      await errorOf(() => plan({ app: { services: { web: web({ host: "a.b", path: "api" }) } } })),
    ).toMatch(/services\.web\.http\.path: "api" is not a path prefix/);
    expect(await errorOf(() => plan({ app: { services: { web: web("a.b", { runOnce: true }) } } }))).toMatch(
      /services\.web\.http: a runOnce service exits after its task/,
    );
  });

  it("rejects a published port on a routed compose service (its new version starts beside the old)", async () => {
    expect(
      await errorOf(() => plan({ app: { services: { web: web("a.b", { ports: ["8080:8080"] }) } } })),
    ).toMatch(
      /services\.web\.ports: a routed service is reached through the proxy: publishing host port 8080/,
    );
    // Swarm's ingress mesh can publish it (the swarm target here publishes in host mode).
    expect(
      await errorOf(() =>
        plan({ app: { services: { web: web("a.b", { ports: ["8080:8080"] }) } } }, { target: "sw" }),
      ),
    ).toMatch(/publishing host port 8080/);
  });
});

describe("routed deploys in the plan", () => {
  it("compose: proxy, what does not depend on the routed services, blue/green, the rest, then the routes", async () => {
    const p = await plan({
      app: {
        services: {
          db: { image: "db:1" },
          web: web("a.example.com", { dependsOn: "db" }),
          worker: { image: "w:1", dependsOn: "web" },
        },
      },
    });
    const shown = p.environments[0]!.commands.map((c) => c.argv.join(" "));
    const index = (pattern: RegExp) => shown.findIndex((c) => pattern.test(c));
    expect(shown[1]).toMatch(
      /^docker create --name edge --label dev\.kaupang\.proxy=edge .* -p 127\.0\.0\.1:2999:2019 -p 8000:80 -p 8443:443 .* caddy:2 caddy run --resume/,
    );
    expect(shown).toContain("curl -fsS http://127.0.0.1:2999/config/");
    expect(index(/up -d --wait --pull missing db$/)).toBeGreaterThan(index(/\/config\/$/));
    const start = index(/--no-deps --no-recreate --pull missing --scale web=<running \+ replicas> web$/);
    expect(start).toBeGreaterThan(index(/ db$/));
    expect(shown[start + 1]).toMatch(
      /-X PATCH .*"dial":"<new web containers>:8080".* http:\/\/127\.0\.0\.1:2999\/id\/kaupang\.shop\.app\.web\.0\/handle\/0\/upstreams$/,
    );
    expect(shown[start + 2]).toBe("curl -fsS http://127.0.0.1:2999/reverse_proxy/upstreams");
    expect(shown[start + 3]).toBe("docker stop <old web containers>");
    expect(index(/up -d --wait --remove-orphans --pull missing$/)).toBeGreaterThan(start);
    expect(shown.at(-2)).toMatch(
      /-X POST .*"@id":"kaupang\.shop\.app\.web\.0".*\/config\/apps\/http\/servers\/kaupang\.http\/routes$/,
    );
    // Exposed on the project network, not published on the host.
    expect(p.environments[0]!.artifact.content).toMatch(/ {2}web:\n(.*\n)*? {4}expose:\n {6}- "8080"\n/);
    expect(p.environments[0]!.views.web!.ports).toEqual([]);
    // Without routes an environment deploys as before.
    const plain = await plan({ app: { services: { web: { image: "web:1", ports: ["8080:8080"] } } } });
    expect(plain.environments[0]!.commands.map((c) => c.argv.slice(0, 2).join(" "))).toEqual([
      "docker network",
      "docker compose",
    ]);
  });

  it("swarm: the proxy as a service, the stack (routed services start-first), then the routes to the service name", async () => {
    const p = await plan({ app: { services: { web: web("a.example.com") } } }, { target: "sw" });
    const env = p.environments[0]!;
    const shown = env.commands.map((c) => c.argv.join(" "));
    expect(
      shown.some((c) =>
        /^docker service create --detach --name edge .*--publish mode=host,published=8000,target=80 /.test(c),
      ),
    ).toBe(true);
    expect(shown.some((c) => c === "docker service update --detach --network-add shop edge")).toBe(true);
    expect(shown.at(-2)).toContain('"upstreams":[{"dial":"shop-app_web:8080"}]');
    const stack = env.artifact.content;
    expect(stack).toMatch(
      /update_config:\n\s+failure_action: rollback\n\s+monitor: "5s"\n\s+order: start-first/,
    );
    expect(stack).toMatch(/rollback_config:\n\s+order: start-first/);
    // Reached through the proxy on the overlay network: no port published.
    expect(stack).not.toMatch(/ports:/);
  });

  it("down takes the routes out first, and the proxy off the network (or away) after", async () => {
    const p = await plan({ app: { services: { web: web("a.example.com") } } });
    const ctx = { project: p.project, target: p.targetSettings, pull: p.pull, root: p.root };
    const shown = downCommands(ctx, p.environments[0]!).map((c) => c.argv.join(" "));
    expect(shown[0]).toBe(
      "curl -fsS -X DELETE 'http://127.0.0.1:2999/id/kaupang.shop.app.<…>'".replace(/'/g, ""),
    );
    expect(shown.slice(1).map((c) => c.split(" ").slice(0, 3).join(" "))).toEqual([
      "docker compose -p",
      "docker network disconnect",
      "docker rm -f",
      "docker network rm",
    ]);
  });

  it("kubernetes: an Ingress per routed service, valid against the API schema; the Deployment surges with readiness", async () => {
    const p = await plan(
      {
        app: {
          services: {
            web: web([
              { host: "a.example.com", tls: "internal" },
              { host: "a.example.com", path: "/api", tls: "auto", tlsSecret: "a-cert" },
              { host: "b.example.com" },
            ]),
            db: { image: "db:1", ports: ["5432"] },
          },
        },
      },
      { target: "k8s" },
    );
    const env = p.environments[0]!;
    const docs = (await import("yaml")).parseAllDocuments(env.artifact.content).map((d) => d.toJSON());
    const ingresses = docs.filter((d) => d.kind === "Ingress");
    expect(ingresses).toHaveLength(1);
    const ingress = ingresses[0];
    expect(() => new Ingress(ingress).validate()).not.toThrow();
    expect(ingress.spec).toEqual({
      ingressClassName: "caddy",
      tls: [
        { hosts: ["a.example.com"], secretName: "web-tls" },
        { hosts: ["a.example.com"], secretName: "a-cert" },
      ],
      rules: [
        {
          host: "a.example.com",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "web", port: { number: 8080 } } },
              },
              {
                path: "/api",
                pathType: "Prefix",
                backend: { service: { name: "web", port: { number: 8080 } } },
              },
            ],
          },
        },
        {
          host: "b.example.com",
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: { service: { name: "web", port: { number: 8080 } } },
              },
            ],
          },
        },
      ],
    });
    const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "web");
    expect(() => new Deployment(deployment).validate()).not.toThrow();
    expect(deployment.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(deployment.spec.template.spec.containers[0].readinessProbe).toEqual({
      tcpSocket: { port: 8080 },
      periodSeconds: 1,
      failureThreshold: 3,
    });
    const db = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "db");
    expect(db.spec.strategy).toBeUndefined();
    // The Ingress is applied in its service's wave and pruned with the environment's objects.
    expect(env.objects!.filter((o) => o.kind === "Ingress")).toEqual([
      { kind: "Ingress", name: "web", service: "web", annotations: {} },
    ]);
    expect(
      env.commands
        .map((c) => c.argv.join(" "))
        .some((c) => /delete -n shop ingress -l .*notin \(web\)/.test(c)),
    ).toBe(true);
  });
});
