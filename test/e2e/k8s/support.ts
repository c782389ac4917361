/**
 * Helpers for the e2e-k8s tier: a project whose `k8s` target deploys to the
 * local control plane (test/e2e/k8s/up.sh), kubectl reads against it, and
 * cleanup of the namespaces a test file created.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { json, testdir } from "../../support/testdir.js";
import { fail, sh, uniqueProject } from "../support/kaupang.js";

export { baseImage, pushVersion } from "../support/fixture.js";

export const context = "kaupang-a";

export function kubeconfig(): string {
  return (
    process.env.KUBECONFIG ?? fail("k8s.env is not loaded: source ~/.cache/kaupang-tools/k8s-run/k8s.env")
  );
}

export const registry = () => process.env.KAUPANG_TEST_REGISTRY ?? "127.0.0.1:5000";

/** kubectl against the test cluster (context kaupang-a). */
export function kubectl(...args: string[]): { code: number; out: string; err: string } {
  return sh(["kubectl", "--context", context, ...args], { env: { KUBECONFIG: kubeconfig() } });
}

/** `kubectl get … -o json`, parsed; fails the test when kubectl does. */
// biome-ignore lint/suspicious/noExplicitAny: test reads of arbitrary Kubernetes objects
export function getJson(...args: string[]): any {
  const r = kubectl("get", ...args, "-o", "json");
  if (r.code !== 0) throw new Error(`kubectl get ${args.join(" ")}: ${r.err}`);
  return JSON.parse(r.out);
}

/** Names of the objects `kubectl get <kinds> -n ns [-l selector]` lists ("kind/name"). */
export function names(kinds: string, namespace: string, selector?: string): string[] {
  const r = kubectl("get", kinds, "-n", namespace, ...(selector ? ["-l", selector] : []), "-o", "name");
  if (r.code !== 0) throw new Error(r.err);
  return r.out.split("\n").filter(Boolean).sort();
}

export const selectorOf = (project: string, env: string) =>
  `app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=${project}-${env}`;

/** The cluster and the registry must answer; an unavailable one fails the tier loudly, never skips it. */
export async function requireCluster(): Promise<void> {
  kubeconfig();
  const ready = kubectl("get", "--raw", "/readyz");
  if (ready.code !== 0)
    fail(`the Kubernetes API server does not answer (run test/e2e/k8s/up.sh): ${ready.err}`);
  try {
    const response = await fetch(`http://${registry()}/v2/`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`status ${response.status}`);
  } catch (error) {
    fail(`the registry ${registry()} does not answer (run test/e2e/harness/docker-up.sh): ${error}`);
  }
}

const namespaces = new Set<string>();

/** Delete (without waiting) every namespace the tests of this file used. */
export function deleteNamespaces(): void {
  if (namespaces.size > 0)
    kubectl("delete", "namespace", ...namespaces, "--ignore-not-found", "--wait=false");
  namespaces.clear();
}

/** A unique project name whose namespace is deleted after the file. */
export function fresh(prefix = "k8s"): string {
  const name = uniqueProject(prefix);
  namespaces.add(name);
  return name;
}

/** Also clean up `namespace` after the file. */
export function track(namespace: string): string {
  namespaces.add(namespace);
  return namespace;
}

/**
 * A project on disk with one target, `k8s`: kubernetes on context kaupang-a of
 * the test kubeconfig, plus `target` overrides (namespace, kubeContext, …).
 */
export function k8sProject(
  name: string,
  environments: Record<string, unknown>,
  target: Record<string, unknown> = {},
): string {
  return testdir({
    "kaupang.config.json": json({
      project: name,
      environments: "./environments",
      targets: {
        k8s: { backend: "kubernetes", kubeContext: context, kubeconfig: kubeconfig(), ...target },
      },
    }),
    ...Object.fromEntries(
      Object.entries(environments).map(([env, body]) => [`environments/${env}.json`, json(body)]),
    ),
  });
}

/** Rewrite one environment file of a project made by k8sProject. */
export function writeEnvironment(dir: string, env: string, body: unknown): void {
  writeFileSync(join(dir, "environments", `${env}.json`), json(body));
}

/** The registry digest the tag `ref` points at now. */
export function digestOf(ref: string): string {
  const r = sh(["oras", "resolve", "--plain-http", ref]);
  if (r.code !== 0) throw new Error(r.err);
  return r.out;
}

/** Every file under `dir`, with its content. */
export function filesUnder(dir: string): { path: string; content: string }[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => join(dir, p))
    .filter((p) => statSync(p).isFile())
    .map((path) => ({ path, content: readFileSync(path, "utf8") }));
}

/** The image of every live (not terminating) pod of a service. */
export function podImages(namespace: string, project: string, env: string, service: string): string[] {
  const pods = getJson(
    "pods",
    "-n",
    namespace,
    "-l",
    `${selectorOf(project, env)},app.kubernetes.io/name=${service}`,
  );
  return pods.items
    .filter((p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp)
    .map((p: { spec: { containers: { image: string }[] } }) => p.spec.containers[0]!.image);
}
