/**
 * `up --bundle` on Kubernetes: where a bundle deploys is the site's choice.
 * The bundle is made from a config whose target uses namespace A, a kube
 * context and a kubeconfig of its own; the site's config puts the same
 * target in namespace B on its own context and kubeconfig. The deploy lands
 * in B (real pods on the real node), nothing is created in A, and the ledger
 * record names the bundle.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, testdir } from "../../support/testdir.js";
import { kaupang, sh } from "../support/kaupang.js";
import {
  context,
  deleteNamespaces,
  digestOf,
  fresh,
  kubeconfig,
  kubectl,
  livePods,
  names,
  pushVersion,
  registry,
  requireCluster,
  selectorOf,
  track,
} from "./support.js";

beforeAll(requireCluster);
// Both namespaces, A included should it exist.
afterAll(deleteNamespaces);

const config = (project: string, target: Record<string, unknown>) =>
  json({
    project,
    environments: "./environments",
    solutions: { shop: { version: "1.0.0", environments: ["app"], target: "k8s" } },
    targets: { k8s: { backend: "kubernetes", ...target } },
  });

describe("up --bundle on kubernetes", () => {
  it("deploys into the site's namespace with the site's context, never the bundle's", async () => {
    const name = fresh("kbun");
    const siteNamespace = name;
    const bundleNamespace = track(`${name}-away`);
    const ref = `${registry()}/${name}/web:latest`;
    const environments = {
      "environments/app.json": json({
        services: { web: { image: ref, command: ["sleep", "3600"] } },
      }),
    };
    pushVersion(ref, "one");

    // The builder: namespace A, a context that exists only in its own kubeconfig (same cluster).
    const builder = testdir(environments);
    const view = sh(["kubectl", "config", "view", "--raw", "--flatten", "-o", "json"], {
      env: { KUBECONFIG: kubeconfig() },
    });
    const own = JSON.parse(view.out) as { contexts: { name: string }[]; "current-context"?: string };
    for (const c of own.contexts) if (c.name === context) c.name = "builder-only";
    own["current-context"] = "builder-only";
    writeFileSync(join(builder, "builder.kubeconfig"), JSON.stringify(own));
    writeFileSync(
      join(builder, "kaupang.config.json"),
      config(name, {
        namespace: bundleNamespace,
        kubeContext: "builder-only",
        kubeconfig: join(builder, "builder.kubeconfig"),
      }),
    );
    const made = await kaupang(["bundle", "shop", "-o", "out/shop", "--cwd", builder]);
    expect(made.code, made.stderr).toBe(0);
    // The bundle crosses to the site; the builder's kubeconfig does not.
    rmSync(join(builder, "builder.kubeconfig"));

    const site = testdir({
      ...environments,
      "kaupang.config.json": config(name, {
        namespace: siteNamespace,
        kubeContext: context,
        kubeconfig: kubeconfig(),
      }),
    });
    const dry = await kaupang([
      "up",
      "--bundle",
      join(builder, "out/shop"),
      "--target",
      "k8s",
      "--dry-run",
      "--cwd",
      site,
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `deploys to this site's target k8s (kubernetes): kube context ${context}, kubeconfig ${kubeconfig()}, namespace ${siteNamespace}`,
    );
    expect(dry.stdout).not.toContain(bundleNamespace);
    expect(dry.stdout).not.toContain("builder-only");

    const up = await kaupang([
      "up",
      "--bundle",
      join(builder, "out/shop"),
      "--target",
      "k8s",
      "--timeout",
      "120s",
      "--output",
      "json",
      "--cwd",
      site,
    ]);
    expect(up.code, up.stderr).toBe(0);

    // In B: the Deployment, and its pod running on the node with the digest the bundle pinned.
    const selector = selectorOf(name, "app");
    expect(names("deployments", siteNamespace, selector)).toEqual(["deployment.apps/web"]);
    const pods = livePods(siteNamespace, name, "app", "web");
    expect(pods.map((p) => [p.phase, p.ready])).toEqual([["Running", true]]);
    expect(pods[0]!.pulled.endsWith(digestOf(ref)), pods[0]!.pulled).toBe(true);
    // In A: nothing, not even the namespace.
    const away = kubectl("get", "namespace", bundleNamespace);
    expect(away.code, away.out).toBe(1);
    expect(away.err).toContain("NotFound");
    const everywhere = kubectl(
      "get",
      "deployments",
      "-A",
      "-l",
      selector,
      "-o",
      "jsonpath={range .items[*]}{.metadata.namespace}{'\\n'}{end}",
    );
    expect(everywhere.out.trim().split("\n")).toEqual([siteNamespace]);

    // The ledger record names the bundle it came from.
    const history = await kaupang(["history", "app", "--target", "k8s", "--output", "json", "--cwd", site]);
    expect(history.code, history.stderr).toBe(0);
    const records = JSON.parse(history.stdout) as { status: string; bundle?: { solution: string } }[];
    expect(records.map((r) => [r.status, r.bundle?.solution])).toEqual([["succeeded", "shop@1.0.0"]]);
  });
});
