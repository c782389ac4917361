/**
 * Routes on Kubernetes, against the tier's real API server: an Ingress per
 * routed service (ingressClassName from the target, host/path rules, TLS
 * secret references), accepted by the API server's own validation; the
 * routed Deployment rolls with maxUnavailable 0 behind a readiness probe;
 * the URL is printed and shown; a route taken out of the config is pruned.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  baseImage,
  deleteNamespaces,
  fresh,
  getJson,
  k8sProject,
  kubectl,
  names,
  requireCluster,
  writeEnvironment,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const web = (http: unknown) => ({
  image: baseImage(),
  command: ["httpd", "-f", "-p", "8080"],
  ports: ["8080"],
  http,
});

describe("kubernetes routes: Ingress and rollout (real API server)", () => {
  it("applies an Ingress per routed service and rolls its Deployment without taking a pod away first", async () => {
    const name = fresh("kroute");
    const host = `${name}.kroute.test`;
    const dir = k8sProject(
      name,
      {
        app: {
          services: {
            web: web([
              { host, tls: "internal" },
              { host, path: "/api", tlsSecret: "api-cert", tls: "auto" },
            ]),
            db: { image: baseImage(), command: ["sleep", "3600"] },
          },
        },
      },
      { proxy: { ingressClassName: "kroute-class" } },
    );
    const up = await kaupang(["up", "app", "--target", "k8s", "--output", "json", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).deployments[0].urls).toEqual([
      { service: "web", url: `https://${host}/` },
      { service: "web", url: `https://${host}/api` },
    ]);

    // What the API server stored is what kaupang rendered: it accepted the Ingress as networking.k8s.io/v1.
    const ingress = getJson("ingress", "-n", name, "web");
    expect(ingress.apiVersion).toBe("networking.k8s.io/v1");
    expect(ingress.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "kaupang",
      "app.kubernetes.io/instance": `${name}-app`,
    });
    expect(ingress.spec).toEqual({
      ingressClassName: "kroute-class",
      tls: [
        { hosts: [host], secretName: "web-tls" },
        { hosts: [host], secretName: "api-cert" },
      ],
      rules: [
        {
          host,
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
      ],
    });
    const deployment = getJson("deployment", "-n", name, "web");
    expect(deployment.spec.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
    });
    expect(deployment.spec.template.spec.containers[0].readinessProbe).toMatchObject({
      tcpSocket: { port: 8080 },
    });
    expect(getJson("deployment", "-n", name, "db").spec.strategy.rollingUpdate).toEqual({
      maxUnavailable: "25%",
      maxSurge: "25%",
    });

    const status = await kaupang(["status", "app", "--target", "k8s", "--cwd", dir]);
    expect(status.stdout).toContain(`  web → https://${host}/api\n`);

    // The API server refuses what is not an Ingress of v1: a server-side dry run of a broken one fails.
    const broken = kubectl(
      "create",
      "ingress",
      "broken",
      "-n",
      name,
      "--rule",
      "bad host/=web:8080",
      "--dry-run=server",
    );
    expect(broken.code).not.toBe(0);

    // A route taken out of the config: its Ingress is pruned, the Deployment stays.
    writeEnvironment(dir, "app", { services: { web: { ...web(host), http: undefined } } });
    const again = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(names("ingress", name)).toEqual([]);
    // db left the config with that rewrite, so it is pruned too; web stays.
    expect(names("deployment", name)).toEqual(["deployment.apps/web"]);

    const down = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(names("deployment,service,ingress", name)).toEqual([]);
  });
});
