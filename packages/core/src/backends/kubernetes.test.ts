import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import type { TargetSettings } from "../base/target.js";
import { loadModel, loadProject } from "../config/project.js";
import {
  kubeObjectNames,
  kubePruneCommands,
  kubeRerunCommand,
  kubeWaitCommand,
  upCommands,
} from "../plan/commands.js";
import { createPlan } from "../plan/create-plan.js";
import {
  classifyKubectlError,
  describePods,
  type KubeJob,
  type KubePod,
  probeFailure,
  runningFromPods,
  secretFixCommand,
  staleJobs,
} from "./kubernetes.js";

const target: TargetSettings = {
  name: "prod",
  backend: "kubernetes",
  kubeContext: "aks-prod",
  kubeconfig: "/k/config",
  namespace: "hall",
};
const digest = `sha256:${"a".repeat(64)}`;

/** A plan for one environment on a kubernetes target, from a config on disk. */
async function plan(services: Record<string, unknown>, pinned: Record<string, string> = {}) {
  const dir = testdir({
    "kaupang.config.json": json({
      project: "hall",
      targets: { prod: { backend: "kubernetes", kubeContext: "aks-prod" } },
    }),
    "environments/app.json": json({ services }),
  });
  const model = await loadModel(await loadProject(dir), {
    environments: ["app"],
    target: "prod",
    processEnv: {},
  });
  return createPlan(model, { pinned: { app: pinned } });
}

describe("kubectl errors a user fixes outside kaupang are one line naming target and context", () => {
  // stderr as kubectl v1.33 prints it.
  it.each([
    [
      'error: context "nope" does not exist',
      'target prod: kubectl context "aks-prod" does not exist in /k/config',
    ],
    [
      "Error in configuration: context was not found for specified context: aks-prod",
      'target prod: kubectl context "aks-prod" does not exist in /k/config',
    ],
    [
      'E1122 08:04:17.805272 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: dial tcp 127.0.0.1:1: connect: connection refused"\nThe connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?',
      "target prod (context aks-prod): the Kubernetes API server is unreachable: The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
    ],
    [
      "Unable to connect to the server: dial tcp: lookup aks.example on 127.0.0.53:53: no such host",
      "target prod (context aks-prod): the Kubernetes API server is unreachable: Unable to connect to the server: dial tcp: lookup aks.example on 127.0.0.53:53: no such host",
    ],
    [
      "error: You must be logged in to the server (Unauthorized)",
      "target prod (context aks-prod): the API server rejected the credentials: error: You must be logged in to the server (Unauthorized)",
    ],
    [
      'Error from server (Forbidden): jobs.batch "j1" is forbidden: User "ci" cannot patch resource "jobs" in API group "batch" in the namespace "hall"\nError from server (Forbidden): …',
      'target prod (context aks-prod): access denied by the API server (RBAC): User "ci" cannot patch resource "jobs" in API group "batch" in the namespace "hall"',
    ],
  ])("%s", (stderr, message) => {
    const error = classifyKubectlError(target, stderr);
    expect(error?.message).toBe(message);
    expect(error?.message).not.toContain("\n");
  });

  it("leaves other failures to the caller", () => {
    expect(
      classifyKubectlError(target, 'The Deployment "web" is invalid: spec.selector: field is immutable'),
    ).toBe(undefined);
  });
});

describe("the Secret fix command", () => {
  it("creates the Secret, with the namespace when that is missing too", () => {
    const kubectl = "KUBECONFIG=/k/config kubectl --context aks-prod";
    expect(secretFixCommand(target, "hall", ["A", "B"], "absent")).toBe(
      `${kubectl} create secret generic hall-secrets -n hall --from-literal=A=… --from-literal=B=…`,
    );
    expect(secretFixCommand(target, "hall", ["A"], "no-namespace")).toBe(
      `${kubectl} create namespace hall && ${kubectl} create secret generic hall-secrets -n hall --from-literal=A=…`,
    );
    expect(secretFixCommand(target, "hall", ["B"], "present")).toBe(
      `${kubectl} patch secret hall-secrets -n hall --type=merge -p '{"stringData":{"B":"…"}}'`,
    );
  });
});

const pod = (
  name: string,
  extra: Partial<KubePod["metadata"]> = {},
  status: KubePod["status"] = {},
): KubePod => ({
  metadata: { name, labels: { "app.kubernetes.io/name": name.split("-")[0]! }, ...extra },
  spec: { containers: [{ name: name.split("-")[0]!, image: `reg/app@${digest}` }] },
  status,
});
const ready = { phase: "Running", conditions: [{ type: "Ready", status: "True" }] };

describe("reading back pods", () => {
  it("names the stuck pod and why", () => {
    expect(describePods([])).toBe("no pod was created");
    expect(describePods([pod("web-1", {}, ready)])).toBe("1/1 pods ready");
    const pending = {
      phase: "Pending",
      conditions: [
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: "0/2 nodes are available",
        },
      ],
    };
    expect(describePods([pod("web-1", {}, ready), pod("web-2", {}, pending)])).toBe(
      "1/2 pods ready; pod web-2 is Pending (Unschedulable: 0/2 nodes are available)",
    );
    const pulling = {
      phase: "Pending",
      containerStatuses: [{ state: { waiting: { reason: "ImagePullBackOff", message: "not found" } } }],
    };
    expect(describePods([pod("web-3", {}, pulling)])).toBe(
      "0/1 pods ready; pod web-3 is Pending (ImagePullBackOff: not found)",
    );
    const looping = {
      phase: "Running",
      containerStatuses: [
        { restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 40s" } } },
      ],
    };
    expect(describePods([pod("web-4", {}, looping)])).toBe(
      "0/1 pods ready; pod web-4 is Running (CrashLoopBackOff after 3 restarts: back-off 40s)",
    );
    // Running, but its readiness probe fails: the kubelet's last failure says why.
    const unready = { phase: "Running", containerStatuses: [{ ready: false, state: { running: {} } }] };
    expect(describePods([pod("web-5", {}, unready)])).toBe(
      "0/1 pods ready; pod web-5 is Running (not ready)",
    );
    expect(describePods([pod("web-5", {}, unready)], "HTTP probe failed with statuscode: 404")).toBe(
      "0/1 pods ready; pod web-5 is Running (readiness probe failed: HTTP probe failed with statuscode: 404)",
    );
  });

  it("takes the newest readiness-probe failure from a pod's events", () => {
    expect(probeFailure([])).toBeUndefined();
    expect(
      probeFailure([
        { reason: "Pulled", message: "Successfully pulled" },
        {
          reason: "Unhealthy",
          message: "Readiness probe failed: old",
          lastTimestamp: "2026-01-01T00:00:01Z",
        },
        {
          reason: "Unhealthy",
          message: "Liveness probe failed: other",
          lastTimestamp: "2026-01-01T00:00:09Z",
        },
        {
          reason: "Unhealthy",
          message: "Readiness probe failed: wget: 404",
          lastTimestamp: "2026-01-01T00:00:05Z",
        },
      ]),
    ).toBe("wget: 404");
  });

  it("reports a Deployment's live pods and a Job's newest pod, in the states status compares", () => {
    const done = { phase: "Succeeded", containerStatuses: [{ state: { terminated: { exitCode: 0 } } }] };
    const pods = [
      pod("web-1", {}, ready),
      pod("web-2", { deletionTimestamp: "2026-01-01T00:00:00Z" }, ready),
      pod("migrate-old", { creationTimestamp: "2026-01-01T00:00:00Z" }, { phase: "Failed" }),
      pod("migrate-new", { creationTimestamp: "2026-01-01T00:01:00Z" }, done),
      {
        ...pod("tagged-1", {}, { phase: "Pending" }),
        spec: { containers: [{ name: "tagged", image: "reg/app:1" }] },
      },
    ];
    const ref = `reg/app@${digest}`;
    expect(runningFromPods(pods, ["migrate"])).toEqual([
      {
        service: "web",
        instances: [{ name: "web-1", digests: [digest], ref, state: "running", env: {}, ready: true }],
      },
      {
        service: "migrate",
        instances: [
          {
            name: "migrate-new",
            digests: [digest],
            ref,
            state: "complete",
            exitCode: 0,
            env: {},
            restarts: 0,
          },
        ],
      },
      {
        service: "tagged",
        instances: [{ name: "tagged-1", digests: [], ref: "reg/app:1", state: "pending", env: {} }],
      },
    ]);
  });

  it("takes the digest the kubelet pulled and runs, its readiness, restarts and why it waits", () => {
    const pulled = `sha256:${"b".repeat(64)}`;
    const looping = {
      phase: "Running",
      conditions: [{ type: "Ready", status: "False" }],
      containerStatuses: [
        {
          name: "web",
          restartCount: 4,
          imageID: `reg/app@${pulled}`,
          containerID: "containerd://abc",
          state: { waiting: { reason: "CrashLoopBackOff" } },
        },
      ],
    };
    expect(runningFromPods([pod("web-1", {}, looping)], [])[0]!.instances).toEqual([
      {
        name: "web-1",
        // What the node runs, not what the spec pins.
        digests: [pulled],
        ref: `reg/app@${digest}`,
        state: "running",
        env: {},
        ready: false,
        restarts: 4,
        waiting: "CrashLoopBackOff",
        running: `reg/app@${pulled}`,
      },
    ]);
  });

  it("reads env from the pod spec, a secret as a reference only", () => {
    const web = pod("web-1", {}, ready);
    web.spec.containers[0]!.env = [
      { name: "LEVEL", value: "info" },
      { name: "TOKEN", valueFrom: { secretKeyRef: { key: "HALL_TOKEN" } } },
    ];
    expect(runningFromPods([web], [])[0]!.instances[0]!.env).toEqual({
      LEVEL: "info",
      TOKEN: "secret(HALL_TOKEN)",
    });
  });
});

describe("re-running runOnce Jobs", () => {
  const job = (name: string, hash: string | undefined, condition?: string): KubeJob => ({
    metadata: { name, ...(hash ? { annotations: { "kaupang.dev/spec-hash": hash } } : {}) },
    status: { conditions: condition ? [{ type: condition, status: "True" }] : [] },
  });
  it("replaces finished Jobs and Jobs of another spec, keeps one running this very spec", () => {
    const wanted = new Map([
      ["done", "h1"],
      ["failed", "h1"],
      ["changed", "h2"],
      ["running", "h1"],
      ["foreign", "h1"],
    ]);
    expect(
      staleJobs(
        [
          job("done", "h1", "Complete"),
          job("failed", "h1", "Failed"),
          job("changed", "h1"),
          job("running", "h1"),
          job("foreign", undefined),
        ],
        wanted,
      ),
    ).toEqual(["done", "failed", "changed", "foreign"]);
  });

  it("renders a spec hash on Jobs that is stable and follows the spec", async () => {
    const services = {
      migrate: { image: "tool:1", runOnce: true },
      web: { image: "web:1", dependsOn: "migrate" },
    };
    const hashOf = (content: string) => /kaupang\.dev\/spec-hash: (sha256:[0-9a-f]{64})/.exec(content)?.[1];
    const first = hashOf((await plan(services)).environments[0]!.artifact.content);
    expect(first).toBeDefined();
    expect(hashOf((await plan(services)).environments[0]!.artifact.content)).toBe(first);
    const repinned = await plan(services, { migrate: `tool@${digest}` });
    expect(hashOf(repinned.environments[0]!.artifact.content)).not.toBe(first);
    // Only Jobs carry it.
    expect((await plan(services)).environments[0]!.artifact.content.match(/spec-hash/g)).toHaveLength(1);
  });
});

describe("kubernetes plan commands", () => {
  it("re-runs Jobs before their wave, waits for each service, and prunes last", async () => {
    const p = await plan({
      migrate: { image: "tool:1", runOnce: true },
      web: { image: "web:1", ports: ["8080"], dependsOn: "migrate" },
      worker: { image: "web:1", dependsOn: "migrate" },
    });
    const commands = p.environments[0]!.commands.map((c) => c.argv.slice(3).join(" "));
    expect(commands).toEqual([
      "delete -n hall job/migrate --ignore-not-found --cascade=foreground --wait",
      "apply --server-side --field-manager=kaupang --force-conflicts -f .kaupang/prod/app.k8s.wave1.yaml",
      'wait -n hall --for=jsonpath={.status.conditions[?(@.status=="True")].type} --timeout=-1s job/migrate',
      "apply --server-side --field-manager=kaupang --force-conflicts -f .kaupang/prod/app.k8s.wave2.yaml",
      "rollout status -n hall deployment/web",
      "rollout status -n hall deployment/worker",
      "delete -n hall deployment -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=hall-app,app.kubernetes.io/name notin (web,worker) --cascade=foreground --wait",
      "delete -n hall job -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=hall-app,app.kubernetes.io/name notin (migrate) --cascade=foreground --wait",
      "delete -n hall service -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=hall-app,app.kubernetes.io/name notin (web) --cascade=foreground --wait",
      "delete -n hall ingress -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=hall-app --cascade=foreground --wait",
    ]);
    expect(
      p.environments[0]!.commands.every((c) => c.argv.slice(0, 3).join(" ") === "kubectl --context aks-prod"),
    ).toBe(true);
  });

  it("prunes kinds that keep the same names in one command, and a kind the artifact lacks entirely", async () => {
    const p = await plan({ web: { image: "web:1", ports: ["8080"] } });
    const env = p.environments[0]!;
    expect(kubeObjectNames(env.objects!)).toEqual({
      Deployment: ["web"],
      Job: [],
      Service: ["web"],
      Ingress: [],
    });
    const ctx = { project: p.project, target: p.targetSettings, pull: p.pull, root: p.root };
    expect(kubePruneCommands(ctx, env).map((c) => c.argv.slice(6, 8))).toEqual([
      ["deployment,service", "-l"],
      ["job,ingress", "-l"],
    ]);
    expect(kubePruneCommands(ctx, env)[1]!.argv[8]).toBe(
      "app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=hall-app",
    );
    expect(upCommands(ctx, env)).toHaveLength(4);
  });

  it("passes KUBECONFIG only through the command's env", () => {
    const ctx = { project: "hall", target, pull: "missing" as const, root: "/" };
    for (const command of [kubeRerunCommand(ctx, "m"), kubeWaitCommand(ctx, { runOnce: [] }, "web")]) {
      expect(command.env).toEqual({ KUBECONFIG: "/k/config" });
      expect(command.argv.join(" ")).not.toContain("/k/config");
    }
  });
});
