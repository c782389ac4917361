/**
 * Helpers for the e2e-k8s tier: a project whose `k8s` target deploys to the
 * local cluster (test/e2e/k8s/up.sh: a real control plane, one real node and
 * tainted kwok fake nodes), kubectl and crictl reads against it, and cleanup of
 * the namespaces a test file created.
 */
import { spawn } from "node:child_process";
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

/** The real node (kubelet + containerd) every test pod runs on. */
export const realNode = () => process.env.KAUPANG_K8S_NODE_NAME ?? "kaupang-node";

/** kubectl against the test cluster (context kaupang-a). */
export function kubectl(...args: string[]): { code: number; out: string; err: string } {
  return sh(["kubectl", "--context", context, ...args], { env: { KUBECONFIG: kubeconfig() } });
}

/** `kubectl apply -f -` of `manifests`; fails the test when kubectl does. */
export function kubectlApply(manifests: string): void {
  const r = sh(["kubectl", "--context", context, "apply", "-f", "-"], {
    env: { KUBECONFIG: kubeconfig() },
    input: manifests,
  });
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.err}`);
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
  const node = kubectl(
    "get",
    "node",
    realNode(),
    "-o",
    'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.nodeInfo.containerRuntimeVersion}',
  );
  if (node.code !== 0 || !/^True containerd:\/\//.test(node.out))
    fail(
      `the real node ${realNode()} is not Ready on containerd (run test/e2e/k8s/up.sh): ${node.out}${node.err}`,
    );
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

interface LivePod {
  name: string;
  node: string;
  phase: string;
  ip: string;
  ready: boolean;
  /** The image the spec names. */
  image: string;
  /**
   * The digest the kubelet pulled and runs, from the container status' imageID
   * (`repo@sha256:…`; the repo is whichever name containerd first had that
   * content under, so only the digest counts).
   */
  pulled: string;
  /** `containerd://<id>` of the running container. */
  containerID: string;
  restarts: number;
  /** Why the container is not running (CrashLoopBackOff, …), if it waits. */
  waiting?: string;
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { image: string }[] };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      imageID?: string;
      containerID?: string;
      restartCount?: number;
      state?: { waiting?: { reason?: string } };
    }[];
  };
}

/** The live (not terminating) pods of a service, as the node reports them. */
export function livePods(namespace: string, project: string, env: string, service: string): LivePod[] {
  const selector = `${selectorOf(project, env)},app.kubernetes.io/name=${service}`;
  const pods: PodJson[] = getJson("pods", "-n", namespace, "-l", selector).items;
  return pods
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => {
      const status = p.status.containerStatuses?.[0] ?? {};
      return {
        name: p.metadata.name,
        node: p.spec.nodeName ?? "",
        phase: p.status.phase,
        ip: p.status.podIP ?? "",
        ready: (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
        image: p.spec.containers[0]!.image,
        pulled: /@(sha256:[0-9a-f]{64})$/.exec(status.imageID ?? "")?.[1] ?? "",
        containerID: status.containerID ?? "",
        restarts: status.restartCount ?? 0,
        ...(status.state?.waiting?.reason ? { waiting: status.state.waiting.reason } : {}),
      };
    });
}

/** The image of every live (not terminating) pod of a service. */
export function podImages(namespace: string, project: string, env: string, service: string): string[] {
  return livePods(namespace, project, env, service).map((p) => p.image);
}

/**
 * What the node's containerd says about a container (`crictl inspect`): its
 * state and the digest of the image it was created from. Undefined once it is gone.
 */
export function container(containerID: string): { state: string; digest: string } | undefined {
  const id = containerID.replace(/^containerd:\/\//, "");
  const r = sh(["crictl", "--config", "/dev/null", "inspect", "-o", "json", id]);
  if (r.code !== 0) {
    if (/not found|does not exist/i.test(r.err)) return undefined;
    throw new Error(`crictl inspect ${id}: ${r.err}`);
  }
  const status = JSON.parse(r.out).status;
  return {
    state: status.state,
    digest: /@(sha256:[0-9a-f]{64})$/.exec(status.imageRef)?.[1] ?? status.imageRef,
  };
}

/**
 * Every live pod of a service really runs: on the real node, Running and Ready,
 * with a pod IP, in a container containerd reports as running from the image
 * the spec pins. Returns the pods.
 */
export function runningOnNode(namespace: string, project: string, env: string, service: string): LivePod[] {
  const pods = livePods(namespace, project, env, service);
  for (const pod of pods) {
    const where = `${service}: pod ${pod.name}`;
    if (pod.node !== realNode()) throw new Error(`${where} is on ${pod.node}, not on ${realNode()}`);
    if (pod.phase !== "Running" || !pod.ready)
      throw new Error(`${where} is ${pod.phase}, ready=${pod.ready}`);
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(pod.ip)) throw new Error(`${where} has no pod IP`);
    const c = container(pod.containerID);
    if (c?.state !== "CONTAINER_RUNNING")
      throw new Error(`${where}: containerd has ${pod.containerID} as ${c?.state ?? "missing"}`);
    const pinned = /@(sha256:[0-9a-f]{64})$/.exec(pod.image)?.[1];
    if (pinned && pod.pulled !== pinned)
      throw new Error(`${where} runs ${pod.pulled}, its spec pins ${pinned}`);
  }
  return pods;
}

/** `kubectl exec` in a pod: stdout, or an error with stderr. */
export function execIn(namespace: string, pod: string, ...command: string[]): string {
  const r = kubectl("exec", "-n", namespace, pod, "--", ...command);
  if (r.code !== 0) throw new Error(`kubectl exec ${pod} -- ${command.join(" ")}: ${r.err} ${r.out}`.trim());
  return r.out;
}

/**
 * The Kubernetes counterpart of compose's `init: true`: the sandbox's pause
 * process is PID 1, so busybox stops on SIGTERM at once instead of after the
 * 30 s grace period.
 */
export const withInit = <T extends Record<string, unknown>>(service: T): T =>
  withPodSpec(service, { shareProcessNamespace: true });

/** `service` with `spec` merged into its pod spec (through the kubernetes: escape hatch). */
export function withPodSpec<T extends Record<string, unknown>>(service: T, spec: Record<string, unknown>): T {
  const hatch = (service.kubernetes ?? {}) as { spec?: { template?: { spec?: Record<string, unknown> } } };
  return {
    ...service,
    kubernetes: {
      ...hatch,
      spec: {
        ...hatch.spec,
        template: { ...hatch.spec?.template, spec: { ...hatch.spec?.template?.spec, ...spec } },
      },
    },
  };
}

/**
 * `kubectl port-forward` to `resource` (e.g. svc/web) on a free local port;
 * resolves once kubectl forwards. close() stops it.
 */
export function portForward(
  namespace: string,
  resource: string,
  port: number,
): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "kubectl",
      ["--context", context, "port-forward", "-n", namespace, resource, `:${port}`, "--address", "127.0.0.1"],
      { env: { ...process.env, KUBECONFIG: kubeconfig() }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl port-forward ${resource}: no forward within 20s: ${out}`));
    }, 20_000);
    const read = (d: Buffer) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), close: () => child.kill() });
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward ${resource} exited with ${code}: ${out}`));
    });
  });
}
