/**
 * Kubernetes: one namespace per project, shared by its environments; every
 * object kaupang creates carries the environment's labels, which is how it
 * finds (prunes, removes, reads back) its own objects and never anyone else's.
 * An environment is applied wave by wave with server-side apply, and each wave's
 * rollouts and Jobs must finish before the next. The commands that change
 * something are the plan's (plan/commands.ts), so `--dry-run` shows exactly
 * what runs; only the reads in between are not shown.
 */
import { existsSync } from "node:fs";
import { KaupangError } from "../base/errors.js";
import { parseImageRef, pinnedRef } from "../base/image-reference.js";
import { sleep } from "../base/poll.js";
import type { TargetSettings } from "../base/target.js";
import { type ExecResult, exec, tail } from "../exec/exec.js";
import { formatCommand } from "../exec/format.js";
import { credentialsFor } from "../images/credentials.js";
import {
  kubeApplyCommand,
  kubectlEnv,
  kubectlGlobalArgs,
  kubeDeleteCommand,
  kubePruneCommands,
  kubeRerunCommand,
  kubeSelector,
  kubeWaitCommand,
} from "../plan/commands.js";
import type { EnvironmentPlan, PlanCommand } from "../plan/types.js";
import { registryAuthSecret, specHashAnnotation } from "../render/kubernetes.js";
import { kubeSecretName } from "../render/names.js";
import type { Backend, BackendContext, RunningService } from "./backend.js";

const pollMs = 500;

type Condition = { type: string; status: string; reason?: string; message?: string };

export interface KubePod {
  metadata: {
    name: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
  };
  spec: {
    containers: {
      name: string;
      image: string;
      env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }[];
    }[];
  };
  status?: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: KubeContainerStatus[];
  };
}

interface KubeContainerStatus {
  name?: string;
  ready?: boolean;
  restartCount?: number;
  /** What the kubelet pulled and runs: `repo@sha256:…` (or an image ID). */
  imageID?: string;
  containerID?: string;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode?: number; reason?: string };
  };
  lastState?: { terminated?: { exitCode?: number; reason?: string } };
}

/** A pod's event, as `kubectl get events -o json` lists it. */
interface KubeEvent {
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { name?: string };
}

export interface KubeJob {
  metadata: { name: string; annotations?: Record<string, string> };
  status?: { conditions?: Condition[] };
}

/** Where a kubectl call went, for error messages. */
const where = (target: TargetSettings) =>
  `target ${target.name} (context ${target.kubeContext ?? "current"})`;

/** A kubectl command line as the user would type it for this target (for hints). */
const kubectlLine = (target: TargetSettings, ...args: string[]) =>
  formatCommand(["kubectl", ...kubectlGlobalArgs(target), ...args], kubectlEnv(target).env);

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;
const newestFirst = (a: KubePod, b: KubePod) =>
  (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "");
const exitCodeOf = (pod: KubePod) =>
  pod.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated?.exitCode;
const conditionOf = (job: KubeJob, type: string) =>
  job.status?.conditions?.find((c) => c.type === type && c.status === "True");

/**
 * Turn kubectl's stderr for the failures a user fixes outside kaupang (wrong
 * context, unreachable server, credentials, RBAC) into one line naming the
 * target and context; undefined for anything else.
 */
export function classifyKubectlError(target: TargetSettings, stderr: string): KaupangError | undefined {
  // client-go's klog lines (E1122 …) repeat the cause; kubectl's own summary is the last line.
  const line = tail(stderr.replace(/^E\d{4} .*$/gm, ""));
  const error = (code: string, message: string) => new KaupangError(code, `${where(target)}: ${message}`);
  if (/context "[^"]*" does not exist|context was not found|no context exists/.test(stderr)) {
    return new KaupangError(
      "ERR_KUBE_CONTEXT",
      `target ${target.name}: kubectl context "${target.kubeContext ?? ""}" does not exist in ${target.kubeconfig ?? "the kubeconfig"}`,
    );
  }
  const unreachable =
    /Unable to connect to the server|connection to the server .* was refused|dial tcp|no such host|i\/o timeout|TLS handshake timeout|failed to download openapi/;
  if (unreachable.test(stderr))
    return error("ERR_KUBE_UNREACHABLE", `the Kubernetes API server is unreachable: ${line}`);
  if (/\(Unauthorized\)|must be logged in/.test(stderr))
    return error("ERR_KUBE_UNAUTHORIZED", `the API server rejected the credentials: ${line}`);
  const denied = /\(Forbidden\).*?: (User "[^"]*" cannot [^\n]*)/.exec(stderr);
  if (denied) return error("ERR_KUBE_FORBIDDEN", `access denied by the API server (RBAC): ${denied[1]}`);
  return undefined;
}

async function failure(ctx: BackendContext, what: string, result: ExecResult): Promise<KaupangError> {
  const known = classifyKubectlError(ctx.target, result.stderr);
  if (known?.code === "ERR_KUBE_CONTEXT") {
    const list = await exec(["kubectl", "config", "get-contexts", "-o", "name"], {
      quiet: true,
      ...kubectlEnv(ctx.target),
    });
    const contexts = list.stdout.split("\n").filter(Boolean).join(", ");
    return contexts ? new KaupangError(known.code, known.message, { hint: `contexts: ${contexts}` }) : known;
  }
  if (known) return known;
  const reason = result.timedOut ? "timed out" : tail(result.stderr) || `exit code ${result.exitCode}`;
  return new KaupangError("ERR_COMMAND_FAILED", `${what} failed: ${reason}`, {
    hint: `command: ${result.command}`,
  });
}

/** Fail before kubectl does: it reports a missing kubeconfig file as "context was not found". */
function requireKubeconfig(target: TargetSettings): void {
  if (target.kubeconfig && !existsSync(target.kubeconfig)) {
    throw new KaupangError(
      "ERR_KUBECONFIG_MISSING",
      `target ${target.name}: kubeconfig ${target.kubeconfig} does not exist`,
      { hint: "fix the target's kubeconfig path, or create the file (e.g. az aks get-credentials --file …)" },
    );
  }
}

/**
 * Run kubectl: one of the plan's commands (shown as it runs), or a read
 * given as kubectl's arguments (quiet). Relative artifact paths resolve
 * against the config root.
 */
function kubectl(
  ctx: BackendContext,
  scope: string,
  command: PlanCommand | string[],
  timeoutMs?: number,
  more: { input?: string; signal?: AbortSignal } = {},
) {
  const read = Array.isArray(command);
  const { argv, env } = read
    ? { argv: ["kubectl", ...kubectlGlobalArgs(ctx.target), ...command], ...kubectlEnv(ctx.target) }
    : command;
  return exec(argv, {
    ...(env ? { env, displayEnv: env } : {}),
    cwd: ctx.root,
    ...(read ? { quiet: true } : { events: ctx.events, scope }),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...more,
  });
}

/** kubectl that must succeed: its stdout, or a classified error. */
async function kubectlOk(
  ctx: BackendContext,
  scope: string,
  command: PlanCommand | string[],
  what: string,
  timeoutMs?: number,
  input?: string,
): Promise<string> {
  const result = await kubectl(ctx, scope, command, timeoutMs, input === undefined ? {} : { input });
  if (result.exitCode !== 0) throw await failure(ctx, `${scope}: ${what}`, result);
  return result.stdout;
}

/** A read: `kubectl get …`'s stdout. */
const get = (ctx: BackendContext, scope: string, ...args: string[]) =>
  kubectlOk(ctx, scope, ["get", ...args], `kubectl get ${args[0]}`);

/** Settle every promise (so no kubectl is left running), then rethrow the first failure. */
async function allOrFirstError(promises: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(promises)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * The command that fixes missing Secret keys: create the Secret (and its
 * namespace, when that is missing too), or add the keys to it. `…` is where
 * the value goes; kaupang never knows it.
 */
export function secretFixCommand(
  target: TargetSettings,
  project: string,
  missing: readonly string[],
  state: "present" | "absent" | "no-namespace",
): string {
  const [name, ns] = [kubeSecretName(project), target.namespace];
  if (state === "present") {
    const data = JSON.stringify({ stringData: Object.fromEntries(missing.map((k) => [k, "…"])) });
    return `${kubectlLine(target, "patch", "secret", name, "-n", ns, "--type=merge", "-p")} '${data}'`;
  }
  const literals = missing.map((k) => `--from-literal=${k}=…`).join(" ");
  const create = `${kubectlLine(target, "create", "secret", "generic", name, "-n", ns)} ${literals}`;
  return state === "absent" ? create : `${kubectlLine(target, "create", "namespace", ns)} && ${create}`;
}

/**
 * secret() values live in the cluster, in Secret `<project>-secrets` keyed by
 * the source variable. Check every key is there before applying anything: a
 * pod with a missing key would only fail later, as CreateContainerConfigError.
 * Only key names are read (a go-template), never values.
 */
async function checkClusterSecrets(ctx: BackendContext, env: EnvironmentPlan): Promise<void> {
  const [name, ns, scope] = [kubeSecretName(ctx.project), ctx.target.namespace, env.environment];
  const keys = "go-template=found{{range $key, $value := .data}} {{$key}}{{end}}";
  const out = await get(ctx, scope, "secret", "-n", ns, name, "--ignore-not-found", "-o", keys);
  const held = new Set(out.split(" ").slice(1));
  const missing = env.secrets.filter((key) => !held.has(key));
  if (missing.length === 0) return;
  const exists = out.startsWith("found");
  const namespace = exists || (await get(ctx, scope, "namespace", ns, "--ignore-not-found", "-o", "name"));
  const state = exists ? "present" : namespace ? "absent" : "no-namespace";
  const fix = secretFixCommand(ctx.target, ctx.project, missing, state);
  throw new KaupangError(
    "ERR_SECRET_MISSING",
    `${scope}: Secret ${name} in namespace ${ns} (${where(ctx.target)}) ${exists ? "lacks" : "does not exist; secret() needs"} ${missing.join(", ")}; nothing was deployed`,
    { hint: `${exists ? "add the keys" : "create it"}: ${fix}` },
  );
}

/**
 * The values of `keys` in the cluster Secret, to fingerprint them (the deploy
 * records keyed hashes, and the pod templates a checksum of them, so a
 * changed value rolls the pods). Read quietly, never printed or written; a
 * missing Secret or key is left out (the apply's pre-flight names it).
 */
async function clusterSecretValues(
  ctx: BackendContext,
  keys: readonly string[],
): Promise<Record<string, string>> {
  if (keys.length === 0) return {};
  requireKubeconfig(ctx.target);
  const [name, ns] = [kubeSecretName(ctx.project), ctx.target.namespace];
  const template = "go-template={{range $key, $value := .data}}{{$key}}={{$value}}\n{{end}}";
  const out = await get(ctx, "secrets", "secret", "-n", ns, name, "--ignore-not-found", "-o", template);
  const values: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const at = line.indexOf("=");
    const key = line.slice(0, at);
    if (at > 0 && keys.includes(key))
      values[key] = Buffer.from(line.slice(at + 1), "base64").toString("utf8");
  }
  return values;
}

const isReady = (p: KubePod) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

/** The first live pod that is not ready, if any. */
function stuckPod(pods: readonly KubePod[]): KubePod | undefined {
  return pods.find((p) => !p.metadata.deletionTimestamp && !isReady(p));
}

/** The newest message of the pod's readiness-probe failures (kubelet's Unhealthy events), if any. */
export function probeFailure(events: readonly KubeEvent[]): string | undefined {
  const when = (e: KubeEvent) => e.lastTimestamp ?? e.eventTime ?? "";
  const [last] = events
    .filter((e) => e.reason === "Unhealthy" && /^Readiness probe/.test(e.message ?? ""))
    .sort((a, b) => when(b).localeCompare(when(a)));
  return last?.message?.replace(/^Readiness probe failed: ?/, "").trim() || undefined;
}

/**
 * Why a service's pods are not ready: the first stuck pod's reason (a waiting
 * container's, with its restarts; the scheduler's; its readiness probe's last
 * failure, from `probe`), or that none exists.
 */
export function describePods(pods: readonly KubePod[], probe?: string): string {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  if (live.length === 0) return "no pod was created";
  const ready = live.filter(isReady).length;
  const stuck = stuckPod(live);
  if (!stuck) return `${ready}/${live.length} pods ready`;
  const status = stuck.status?.containerStatuses?.find((c) => c.state?.waiting);
  const waiting = status?.state?.waiting;
  const restarts = status?.restartCount
    ? ` after ${status.restartCount} restart${status.restartCount === 1 ? "" : "s"}`
    : "";
  const unscheduled = stuck.status?.conditions?.find(
    (c) => c.type === "PodScheduled" && c.status === "False",
  );
  const detail = waiting
    ? `${waiting.reason ?? "waiting"}${restarts}${waiting.message ? `: ${waiting.message}` : ""}`
    : unscheduled
      ? `${unscheduled.reason ?? "Unschedulable"}: ${unscheduled.message ?? ""}`.trim()
      : probe
        ? `readiness probe failed: ${probe}`
        : "not ready";
  return `${ready}/${live.length} pods ready; pod ${stuck.metadata.name} is ${stuck.status?.phase ?? "Pending"} (${detail})`;
}

/** The events of one pod (read-only; none when they cannot be read). */
async function podEvents(ctx: BackendContext, pod: string): Promise<KubeEvent[]> {
  const result = await kubectl(ctx, "", [
    "get",
    "events",
    "-n",
    ctx.target.namespace,
    "--field-selector",
    `involvedObject.kind=Pod,involvedObject.name=${pod}`,
    "-o",
    "json",
  ]);
  if (result.exitCode !== 0) return [];
  return (JSON.parse(result.stdout) as { items: KubeEvent[] }).items;
}

/**
 * A stuck pod's last log lines: its running container's, or the previous
 * (crashed) one's when the container waits to restart. Empty when it never
 * started or its log cannot be read.
 */
async function lastLogLines(ctx: BackendContext, pod: KubePod): Promise<string> {
  const status = pod.status?.containerStatuses?.[0];
  if (!status?.containerID && !status?.lastState?.terminated) return "";
  const previous = status.state?.waiting && status.lastState?.terminated ? ["--previous"] : [];
  const result = await kubectl(ctx, "", [
    "logs",
    "-n",
    ctx.target.namespace,
    pod.metadata.name,
    "--tail=5",
    ...previous,
  ]);
  return result.exitCode === 0 ? tail(result.stdout, 3) : "";
}

async function podsOf(ctx: BackendContext, env: string, service?: string): Promise<KubePod[]> {
  const selector = `${kubeSelector(ctx.project, env)}${service ? `,app.kubernetes.io/name=${service}` : ""}`;
  const out = await get(ctx, env, "pods", "-n", ctx.target.namespace, "-l", selector, "-o", "json");
  return (JSON.parse(out) as { items: KubePod[] }).items;
}

async function readJobs(ctx: BackendContext, env: string, names: readonly string[]): Promise<KubeJob[]> {
  const out = await get(
    ctx,
    env,
    "job",
    "-n",
    ctx.target.namespace,
    ...names,
    "--ignore-not-found",
    "-o=json",
  );
  if (!out.trim()) return [];
  // One name gives the object, several a List.
  const parsed = JSON.parse(out) as KubeJob | { items: KubeJob[] };
  return "items" in parsed ? parsed.items : [parsed];
}

/**
 * Which earlier Jobs of a wave to delete before applying it: one that finished
 * (it would not run again) or whose spec differs (a Job is immutable). One
 * still running this very spec — an interrupted deploy's — is kept and waited
 * for: never kill a migration half-way only to start the same one again.
 */
export function staleJobs(
  existing: readonly KubeJob[],
  wanted: ReadonlyMap<string, string | undefined>,
): string[] {
  return existing
    .filter((job) => {
      const done = conditionOf(job, "Complete") ?? conditionOf(job, "Failed");
      const hash = job.metadata.annotations?.[specHashAnnotation];
      return done || hash === undefined || hash !== wanted.get(job.metadata.name);
    })
    .map((job) => job.metadata.name);
}

async function rerunJobs(ctx: BackendContext, env: EnvironmentPlan, wave: readonly string[]): Promise<void> {
  const jobs = wave.filter((s) => env.runOnce.includes(s));
  if (jobs.length === 0) return;
  const wanted = new Map(
    (env.objects ?? [])
      .filter((o) => o.kind === "Job")
      .map((o) => [o.name, o.annotations[specHashAnnotation]]),
  );
  const stale = staleJobs(await readJobs(ctx, env.environment, jobs), wanted);
  await allOrFirstError(
    stale.map((job) =>
      kubectlOk(ctx, env.environment, kubeRerunCommand(ctx, job), `delete the previous job ${job}`),
    ),
  );
}

/** Throw if a finished Job failed; true once it completed. */
async function jobSucceeded(ctx: BackendContext, env: string, service: string): Promise<boolean> {
  const [job] = await readJobs(ctx, env, [service]);
  const failed = job && conditionOf(job, "Failed");
  if (!failed) return Boolean(job && conditionOf(job, "Complete"));
  const [pod] = (await podsOf(ctx, env, service)).sort(newestFirst);
  const code = pod && exitCodeOf(pod);
  throw new KaupangError(
    "ERR_DEPLOY_FAILED",
    `${env}: one-shot service ${service} ${code !== undefined ? `exited with code ${code}` : "failed"} (${failed.reason ?? "Failed"}${failed.message ? `: ${failed.message}` : ""})`,
    {
      hint: `see ${kubectlLine(ctx.target, "logs", "-n", ctx.target.namespace, `job/${service}`)}`,
      details: { environment: env, service },
    },
  );
}

/** Wait for one service of a wave (the plan's wait command), bounded by the environment's deadline. */
async function waitService(
  ctx: BackendContext,
  env: EnvironmentPlan,
  service: string,
  deadline: number,
  signal: AbortSignal,
) {
  const job = env.runOnce.includes(service);
  const scope = env.environment;
  const left = Math.max(1000, deadline - Date.now());
  const result = await kubectl(ctx, scope, kubeWaitCommand(ctx, env, service), left, { signal });
  // Stopped because the wave already failed (a pull that cannot succeed): that failure is the one reported.
  if (signal.aborted) return;
  if (result.exitCode !== 0) {
    const known = result.timedOut ? undefined : classifyKubectlError(ctx.target, result.stderr);
    if (known) throw known;
    const pods = await podsOf(ctx, scope, service);
    const stuck = stuckPod(pods);
    const [events, logs] = stuck
      ? await Promise.all([podEvents(ctx, stuck.metadata.name), lastLogLines(ctx, stuck)])
      : [[], ""];
    const why = describePods(pods, probeFailure(events));
    if (!result.timedOut)
      throw new KaupangError(
        "ERR_DEPLOY_FAILED",
        `${scope}: service ${service} did not roll out: ${tail(result.stderr)} (${why})`,
        { details: { environment: scope, service } },
      );
    const describe = kubectlLine(
      ctx.target,
      "describe",
      "-n",
      ctx.target.namespace,
      `${job ? "job" : "deployment"}/${service}`,
    );
    throw new KaupangError(
      "ERR_DEPLOY_TIMEOUT",
      `${scope}: ${job ? `job ${service} did not complete` : `service ${service} did not become ready`} within ${seconds(ctx.timeoutMs)} (${why})`,
      {
        hint: logs
          ? `last log lines of pod ${stuck!.metadata.name}: ${logs} (see ${describe})`
          : `see ${describe}`,
        details: { environment: scope, service },
      },
    );
  }
  // A Job's wait ends on any terminal condition: which was it? (Complete follows SuccessCriteriaMet.)
  while (job && !signal.aborted && !(await jobSucceeded(ctx, scope, service))) {
    if (Date.now() > deadline)
      throw new KaupangError(
        "ERR_DEPLOY_TIMEOUT",
        `${scope}: job ${service} did not complete within ${seconds(ctx.timeoutMs)}`,
      );
    await sleep(pollMs / 5);
  }
}

/** Pull failures that retrying will not fix: a refused or missing login, an image that is not there. */
const hopelessPull =
  /\b(401|403|404)\b|unauthori[sz]ed|authentication required|authorization failed|no basic auth credentials|denied|forbidden|not found|manifest unknown|invalid reference/i;

/** A pod's container that waits because its image cannot be pulled: why, and the kubelet's message. */
export function pullWaiting(pod: KubePod): { reason: string; message: string } | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason && /^(ErrImagePull|ImagePullBackOff|InvalidImageName)$/.test(waiting.reason))
      return { reason: waiting.reason, message: waiting.message ?? "" };
  }
  return undefined;
}

/** The newest "Failed to pull image …" message among a pod's events (ImagePullBackOff's own message only says it backs off). */
export function pullEventMessage(events: readonly KubeEvent[]): string | undefined {
  const when = (e: KubeEvent) => e.lastTimestamp ?? e.eventTime ?? "";
  const [last] = events
    .filter((e) => e.reason === "Failed" && /^Failed to pull image/.test(e.message ?? ""))
    .sort((a, b) => when(b).localeCompare(when(a)));
  return last?.message;
}

const pullPollMs = 2000;

/**
 * While a wave rolls out: watch the pods this apply created (since `since`,
 * with the image it deploys) for an image pull that cannot succeed (the
 * registry refused the login, the image is not there) and name it at once,
 * instead of waiting for the timeout. Returns that failure, or undefined once
 * `signal` aborts (the wave finished). A cluster whose clock runs behind this
 * machine's only makes it miss the failure, which the timeout then reports.
 */
async function watchPulls(
  ctx: BackendContext,
  env: EnvironmentPlan,
  wave: readonly string[],
  since: number,
  signal: AbortSignal,
): Promise<KaupangError | undefined> {
  const scope = env.environment;
  const selector = kubeSelector(ctx.project, scope);
  for (;;) {
    try {
      await sleep(pullPollMs, signal);
    } catch {
      return undefined;
    }
    const args = ["get", "pods", "-n", ctx.target.namespace, "-l", selector, "-o", "json"];
    const result = await kubectl(ctx, "", args, undefined, { signal });
    if (signal.aborted) return undefined;
    if (result.exitCode !== 0) continue;
    for (const pod of (JSON.parse(result.stdout) as { items: KubePod[] }).items) {
      const service = pod.metadata.labels?.["app.kubernetes.io/name"];
      const pull = pullWaiting(pod);
      if (!service || !wave.includes(service) || pod.metadata.deletionTimestamp || !pull) continue;
      const image =
        pod.spec.containers.find((c) => c.name === service)?.image ?? pod.spec.containers[0]?.image ?? "";
      // A pod of an earlier deploy (created before this apply, or with another image) does not fail this one.
      const created = Date.parse(pod.metadata.creationTimestamp ?? "");
      if (!(created >= since) || (env.views[service] && image !== env.views[service]!.image)) continue;
      const message = hopelessPull.test(pull.message)
        ? pull.message
        : (pullEventMessage(await podEvents(ctx, pod.metadata.name)) ?? pull.message);
      if (!hopelessPull.test(message)) continue;
      const registry = parseImageRef(image).registry;
      const withLogin = env.registryAuth?.registries.includes(registry);
      return new KaupangError(
        "ERR_IMAGE_PULL",
        `${scope}: service ${service} cannot pull its image ${image} on the cluster (${pull.reason}: ${message.replace(/\s+/g, " ").trim()})`,
        {
          hint: withLogin
            ? `the cluster pulled with your docker login for ${registry} (Secret ${env.registryAuth!.secret}): check it (docker login ${registry}) and that the image exists`
            : `no docker login for ${registry} was passed to the cluster: docker login ${registry} before kaupang up (kaupang hands it to the pods as a pull Secret), or name an existing pull Secret in the target's imagePullSecrets`,
          details: { environment: scope, service },
        },
      );
    }
  }
}

/**
 * Wait for every service of a wave, side by side (the plan lists the waits
 * one by one; they only read), while watching for image pulls that cannot
 * succeed: one of those fails the wave at once, naming the service.
 */
async function waitWave(
  ctx: BackendContext,
  env: EnvironmentPlan,
  wave: readonly string[],
  deadline: number,
  since: number,
) {
  const stop = new AbortController();
  let pullError: KaupangError | undefined;
  const watching = watchPulls(ctx, env, wave, since, stop.signal).then((error) => {
    if (error) {
      pullError = error;
      stop.abort();
    }
  });
  try {
    await allOrFirstError(wave.map((service) => waitService(ctx, env, service, deadline, stop.signal)));
  } finally {
    stop.abort();
    await watching;
  }
  if (pullError) throw pullError;
}

/**
 * The registry-login Secret's data for `registries`: the deployer's docker
 * login for each (as the image resolution used it). A registry with no login
 * here, or only an OAuth token the kubelet cannot use, is left out with a warning.
 */
async function registryAuths(ctx: BackendContext, env: EnvironmentPlan): Promise<Record<string, string>> {
  const auths: Record<string, string> = {};
  for (const registry of env.registryAuth?.registries ?? []) {
    const login = await credentialsFor(registry);
    if (login?.username !== undefined && login.password !== undefined) {
      const key = registry === "docker.io" ? "https://index.docker.io/v1/" : registry;
      auths[key] = Buffer.from(`${login.username}:${login.password}`).toString("base64");
    } else {
      ctx.events({
        type: "warning",
        scope: env.environment,
        message: `no docker login${login ? " with a password" : ""} for ${registry} here: Secret ${env.registryAuth!.secret} keeps what an earlier deploy wrote`,
      });
    }
  }
  return auths;
}

/**
 * Wave 1's apply, with the registry-login Secret on kubectl's stdin when the
 * environment pulls with one (the plan's command: `-f -`).
 */
async function applyFirstWave(ctx: BackendContext, env: EnvironmentPlan, timeoutMs: number) {
  const auths = env.registryAuth ? await registryAuths(ctx, env) : {};
  const auth = env.registryAuth && Object.keys(auths).length > 0 ? env.registryAuth : undefined;
  const command = kubeApplyCommand(ctx, { ...env, ...(auth ? {} : { registryAuth: undefined }) }, 0);
  const secret = auth
    ? JSON.stringify(registryAuthSecret(ctx.target, ctx.project, env.environment, auth.secret, auths))
    : undefined;
  await kubectlOk(ctx, env.environment, command, "apply wave 1", timeoutMs, secret);
}

/** Pod phases in the words `status` and the no-change check use for every backend. */
const podState: Record<string, string> = {
  Running: "running",
  Succeeded: "complete",
  Failed: "failed",
  Pending: "pending",
};

const digestIn = (ref: string | undefined) => (ref ? /@(sha256:[0-9a-f]{64})$/.exec(ref)?.[1] : undefined);

/**
 * What runs per service: a Deployment's live pods, a Job's newest pod. The
 * digest is the one the kubelet pulled and runs (the container status'
 * imageID); only a pod whose container has not started yet falls back to the
 * digest its spec pins. Env comes from the pod spec, a secretKeyRef as
 * `secret(KEY)` (the value is never read). Readiness, restarts and why a
 * container waits (CrashLoopBackOff, ImagePullBackOff, …) come from the pod
 * status. No ports: nothing is published on a host, so there is nothing to
 * compare.
 */
export function runningFromPods(pods: readonly KubePod[], runOnce: readonly string[]): RunningService[] {
  const byService = new Map<string, KubePod[]>();
  for (const pod of pods) {
    const service = pod.metadata.labels?.["app.kubernetes.io/name"];
    if (!service || pod.metadata.deletionTimestamp) continue;
    byService.set(service, [...(byService.get(service) ?? []), pod]);
  }
  return [...byService].map(([service, list]) => {
    const current = runOnce.includes(service)
      ? [...list].sort(newestFirst).slice(0, 1)
      : list.filter((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
    return {
      service,
      instances: current.map((pod) => {
        const container = pod.spec.containers.find((c) => c.name === service) ?? pod.spec.containers[0];
        const status =
          pod.status?.containerStatuses?.find((c) => c.name === container?.name) ??
          pod.status?.containerStatuses?.[0];
        const ref = container?.image ?? "";
        const digest = digestIn(status?.imageID) ?? digestIn(ref);
        const exitCode = exitCodeOf(pod);
        const env = (container?.env ?? []).map((e) => {
          const secret = e.valueFrom?.secretKeyRef?.key;
          return [e.name, secret ? `secret(${secret})` : (e.value ?? "")];
        });
        const phase = pod.status?.phase ?? "Unknown";
        // A Deployment's container that just exited (it restarts next) counts as waiting too.
        const waiting =
          status?.state?.waiting ??
          (phase === "Running" && !runOnce.includes(service) ? status?.state?.terminated : undefined);
        return {
          digests: digest ? [digest] : [],
          ref,
          name: pod.metadata.name,
          state: podState[phase] ?? phase.toLowerCase(),
          ...(exitCode !== undefined ? { exitCode } : {}),
          env: Object.fromEntries(env),
          ...(phase === "Running" ? { ready: Boolean(isReady(pod)) } : {}),
          ...(status ? { restarts: status.restartCount ?? 0 } : {}),
          ...(waiting?.reason ? { waiting: waiting.reason } : {}),
          // containerd names pulled content by the first repository it came from: keep the spec's name.
          ...(digestIn(status?.imageID) ? { running: pinnedRef(ref, digestIn(status?.imageID)!) } : {}),
        };
      }),
    };
  });
}

/** After a delete: wait until nothing labelled for the environment is left (pods and ReplicaSets included). */
async function waitGone(ctx: BackendContext, env: string): Promise<void> {
  const deadline = Date.now() + ctx.timeoutMs;
  const kinds = "deployment,replicaset,job,pod,service,endpointslice";
  const selector = kubeSelector(ctx.project, env);
  for (;;) {
    const left = (
      await get(ctx, env, kinds, "-n", ctx.target.namespace, "-l", selector, "-o", "name")
    ).trim();
    if (!left) return;
    if (Date.now() > deadline) {
      throw new KaupangError(
        "ERR_DEPLOY_TIMEOUT",
        `${env}: ${left.split("\n").join(", ")} still exist ${seconds(ctx.timeoutMs)} after the delete`,
      );
    }
    await sleep(pollMs);
  }
}

export const kubernetesBackend: Backend = {
  async apply(ctx, env) {
    requireKubeconfig(ctx.target);
    const scope = env.environment;
    const deadline = Date.now() + ctx.timeoutMs;
    const left = () => Math.max(1000, deadline - Date.now());
    if (env.secrets.length > 0) await checkClusterSecrets(ctx, env);
    for (let i = 0; i < env.waves.length; i++) {
      const wave = env.waves[i]!;
      const apply = kubeApplyCommand(ctx, env, i);
      if (env.waves.length > 1) ctx.events({ type: "stage", scope, message: apply.description });
      await rerunJobs(ctx, env, wave);
      // creationTimestamp has whole seconds: a pod of this apply is at most 1 s "older" than its start.
      const since = Date.now() - 1000;
      if (i === 0) await applyFirstWave(ctx, env, left());
      else await kubectlOk(ctx, scope, apply, `apply wave ${i + 1}`, left());
      await waitWave(ctx, env, wave, deadline, since);
    }
    // Pruned last, like swarm's --prune: a removed service stops once the new ones run.
    await allOrFirstError(kubePruneCommands(ctx, env).map((c) => kubectlOk(ctx, scope, c, "prune", left())));
  },

  async remove(ctx, env) {
    requireKubeconfig(ctx.target);
    await kubectlOk(ctx, env.environment, kubeDeleteCommand(ctx, env), "delete", ctx.timeoutMs);
    ctx.events({ type: "stage", scope: env.environment, message: "waiting until its objects are gone" });
    await waitGone(ctx, env.environment);
  },

  async running(ctx, env) {
    requireKubeconfig(ctx.target);
    return runningFromPods(await podsOf(ctx, env.environment), env.runOnce);
  },

  secretValues: clusterSecretValues,
};
