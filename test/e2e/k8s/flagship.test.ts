import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  context,
  execIn,
  getJson,
  kubeconfig,
  kubectl,
  names,
  portForward,
  requireCluster,
  runningOnNode,
} from "./support.js";

// The flagship example, unchanged, from a copy (so .kaupang stays out of the repo).
const work = mkdtempSync(join(tmpdir(), "kaupang-flagship-k8s-"));
const dir = join(work, "longhall");
cpSync(fileURLToPath(new URL("../../../examples/longhall", import.meta.url)), dir, { recursive: true });
const jarlKey = `jarl-${Math.random().toString(36).slice(2)}`;
const env = () => ({
  LONGHALL_KUBE_CONTEXT: context,
  LONGHALL_KUBECONFIG: kubeconfig(),
  LONGHALL_JARL_KEY: jarlKey,
});
const namespace = "longhall";

beforeAll(async () => {
  await requireCluster();
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait");
});
afterAll(() => {
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false");
  rmSync(work, { recursive: true, force: true });
});

describe("flagship example: longhall on asgard-k8s (kubernetes)", () => {
  it("builds and pushes the market image", async () => {
    const r = await kaupang(["build", "market", "--push", "--cwd", dir], { env: env() });
    expect(r.code, r.stderr).toBe(0);
  });

  it("deploys market with saga and runes to asgard-k8s, and tears it all down", async () => {
    expect(kubectl("create", "namespace", namespace).code).toBe(0);
    const secret = kubectl(
      "create",
      "secret",
      "generic",
      "longhall-secrets",
      "-n",
      namespace,
      `--from-literal=LONGHALL_JARL_KEY=${jarlKey}`,
    );
    expect(secret.code, secret.err).toBe(0);

    const up = await kaupang(["up", "market", "--target", "asgard-k8s", "--cwd", dir], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    for (const e of ["runes", "saga", "market"]) expect(up.stderr).toContain(`${e}: deployed`);
    expect(up.stderr).toContain(`KUBECONFIG=${kubeconfig()} kubectl --context ${context} apply`);
    expect(names("deployment,service,job", namespace)).toEqual([
      "deployment.apps/cache",
      "deployment.apps/store",
      "deployment.apps/web",
      "deployment.apps/worker",
      "job.batch/migrate",
      "service/cache",
      "service/store",
      "service/web",
    ]);
    expect(getJson("job", "-n", namespace, "migrate").status.succeeded).toBe(1);
    const web = getJson("deployment", "-n", namespace, "web");
    const container = web.spec.template.spec.containers[0];
    expect(container.image).toMatch(/^127\.0\.0\.1:5000\/longhall\/longhall-market@sha256:[0-9a-f]{64}$/);
    expect(container.env).toContainEqual({
      name: "JARL_KEY",
      valueFrom: { secretKeyRef: { name: "longhall-secrets", key: "LONGHALL_JARL_KEY" } },
    });
    expect(container.env).toContainEqual({ name: "REALM", value: "asgard" });
    expect(web.status.readyReplicas).toBe(1);
    expect(up.stdout + up.stderr).not.toContain(jarlKey);

    // The pods run on the real node; the migration really reached saga's store by name.
    expect(kubectl("logs", "-n", namespace, "job/migrate").out).toBe("migrated");
    const [webPod] = runningOnNode(namespace, "longhall", "market", "web");
    runningOnNode(namespace, "longhall", "market", "worker");
    const [store] = runningOnNode(namespace, "longhall", "saga", "store");
    runningOnNode(namespace, "longhall", "runes", "cache");
    expect(execIn(namespace, webPod!.name, "sh", "-c", 'printf %s "$JARL_KEY"')).toBe(jarlKey);
    // The market page answers through its Service: from another environment's pod, by name…
    const page = "The market of the longhall is open.";
    expect(
      execIn(namespace, store!.name, "timeout", "10", "wget", "-q", "-O-", "http://web:8080/"),
    ).toContain(page);
    // …and from outside the cluster, through the apiserver and the kubelet (port-forward).
    const forward = await portForward(namespace, "svc/web", 8080);
    try {
      const response = await fetch(`http://127.0.0.1:${forward.port}/`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(page);
    } finally {
      forward.close();
    }

    const down = await kaupang(["down", "market", "--with-deps", "--target", "asgard-k8s", "--cwd", dir], {
      env: env(),
    });
    expect(down.code, down.stderr).toBe(0);
    expect(names("all,endpointslices", namespace, "app.kubernetes.io/managed-by=kaupang")).toEqual([]);
    expect(names("secret", namespace)).toContain("secret/longhall-secrets");
  });
});
