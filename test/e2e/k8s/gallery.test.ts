/**
 * examples/kubernetes, deployed for real to the tier's API server with the
 * commands its README gives: the Job runs before the Deployment, the Secret
 * reference holds no value, status reads it back, down removes it.
 */
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
  requireCluster,
  runningOnNode,
} from "./support.js";

const work = mkdtempSync(join(tmpdir(), "kaupang-gallery-k8s-"));
const dir = join(work, "kubernetes");
cpSync(fileURLToPath(new URL("../../../examples/kubernetes", import.meta.url)), dir, {
  recursive: true,
  filter: (source) => !source.endsWith(".kaupang"),
});
const namespace = "kube-example";
const apiKey = `key-${Math.random().toString(36).slice(2)}`;
const env = () => ({ KUBE_EXAMPLE_CONTEXT: context, KUBE_EXAMPLE_KUBECONFIG: kubeconfig() });

beforeAll(async () => {
  await requireCluster();
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait");
});
afterAll(() => {
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false");
  rmSync(work, { recursive: true, force: true });
});

describe("examples/kubernetes on the k8s tier", () => {
  it("refuses to apply anything before the Secret holds the key", async () => {
    expect(kubectl("create", "namespace", namespace).code).toBe(0);
    const up = await kaupang(["up", "api", "--target", "prod", "--cwd", dir], { env: env() });
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("KUBE_EXAMPLE_API_KEY");
    expect(names("deployment,job", namespace)).toEqual([]);
  });

  it("deploys the Job, then the Deployment with 2 replicas and its Service; status; down", async () => {
    const secret = kubectl(
      "create",
      "secret",
      "generic",
      "kube-example-secrets",
      "-n",
      namespace,
      `--from-literal=KUBE_EXAMPLE_API_KEY=${apiKey}`,
    );
    expect(secret.code, secret.err).toBe(0);
    const up = await kaupang(["up", "api", "--target", "prod", "--cwd", dir], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout + up.stderr).not.toContain(apiKey);
    expect(names("deployment,service,job", namespace)).toEqual([
      "deployment.apps/web",
      "job.batch/migrate",
      "service/web",
    ]);
    const job = getJson("job", "-n", namespace, "migrate");
    expect(job.status.succeeded).toBe(1);
    const web = getJson("deployment", "-n", namespace, "web");
    expect(web.spec.replicas).toBe(2);
    expect(web.status.readyReplicas).toBe(2);
    // The Deployment came after the Job had completed.
    expect(Date.parse(web.metadata.creationTimestamp)).toBeGreaterThanOrEqual(
      Date.parse(job.status.completionTime) - 1000,
    );
    const container = web.spec.template.spec.containers[0];
    expect(container.image).toMatch(/^127\.0\.0\.1:5000\/kaupang-test\/busybox@sha256:[0-9a-f]{64}$/);
    expect(container.env).toContainEqual({
      name: "API_KEY",
      valueFrom: { secretKeyRef: { name: "kube-example-secrets", key: "KUBE_EXAMPLE_API_KEY" } },
    });
    expect(container.env).toContainEqual({ name: "APP_ENV", value: "production" });
    expect(getJson("service", "-n", namespace, "web").spec.ports[0].port).toBe(8080);
    // Both replicas run on the real node; the Job's process really ran; the key reached the process.
    expect(kubectl("logs", "-n", namespace, "job/migrate").out).toBe("applied migration 0003_ledger");
    const pods = runningOnNode(namespace, "kube-example", "api", "web");
    expect(pods).toHaveLength(2);
    expect(new Set(pods.map((p) => p.ip)).size).toBe(2);
    expect(execIn(namespace, pods[0]!.name, "sh", "-c", 'printf %s "$API_KEY"')).toBe(apiKey);

    const status = await kaupang(["status", "api", "--target", "prod", "--cwd", dir], { env: env() });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    // One line per pod, as the node reports it: running, ready, the image the kubelet pulled.
    const digest = container.image.split("@")[1];
    expect(status.stdout.match(/^ {2}web: \S+: running, ready, image \S+$/gm)).toHaveLength(2);
    expect(status.stdout).toContain(`image 127.0.0.1:5000/kaupang-test/busybox@${digest}`);

    const down = await kaupang(["down", "api", "--target", "prod", "--cwd", dir], { env: env() });
    expect(down.code, down.stderr).toBe(0);
    expect(names("all", namespace, "app.kubernetes.io/managed-by=kaupang")).toEqual([]);
    expect(names("secret", namespace)).toContain("secret/kube-example-secrets");
  });
});
