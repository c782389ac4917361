/**
 * Docker Swarm: one stack per environment. A stack file has no start order, so
 * kaupang deploys an environment wave by wave and waits for each wave to
 * converge (every task running, healthy where a healthcheck exists; one-shot
 * tasks complete) before the next. Swarm's own update rollback counts as a
 * failed deploy.
 */
import { KaupangError } from "../base/errors.js";
import { sleep } from "../base/poll.js";
import {
  type DockerEngine,
  engineFilters,
  engineMessage,
  localEngineSocket,
  withEngine,
} from "../exec/docker-engine.js";
import { exec, execOk, outputLines, tail } from "../exec/exec.js";
import {
  dockerGlobalArgs,
  stackDeployCommand,
  stackRemoveCommand,
  swarmRerunCommand,
} from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { stackName } from "../render/names.js";
import type { Backend, BackendContext, RunningService } from "./backend.js";
import { envMap } from "./compose.js";
import { ensureProjectNetwork, prefetchProjectNetwork, removeProjectNetworkIfUnused } from "./network.js";

interface SwarmService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    EndpointSpec?: { Ports?: { TargetPort: number; PublishedPort?: number; Protocol?: string }[] };
    Mode: { Replicated?: { Replicas: number }; Global?: unknown };
    TaskTemplate?: unknown;
  };
  UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
}

interface SwarmTask {
  ID: string;
  Spec?: { ContainerSpec?: { Image?: string; Env?: string[] } };
  ServiceID: string;
  /** Replica slot (replicated services); a global service's tasks are told apart by node. */
  Slot?: number;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ExitCode?: number } };
}

interface SwarmNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Availability?: string };
  Status?: { State?: string };
}

/** The swarm's nodes, by ID (empty when this engine is not a manager). */
async function nodesOf(
  ctx: BackendContext,
): Promise<Map<string, { name: string; availability: string; state: string }>> {
  const nodes = await withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request<SwarmNode[]>("GET", "/nodes");
      return reply.status === 200 ? reply.body : [];
    },
    async () => {
      const listed = await exec(docker(ctx, "node", "ls", "-q"), { quiet: true });
      const ids = outputLines(listed.stdout);
      if (listed.exitCode !== 0 || ids.length === 0) return [];
      const inspected = await exec(docker(ctx, "node", "inspect", ...ids), { quiet: true });
      const text = inspected.stdout.trim();
      return text.startsWith("[") ? (JSON.parse(text) as SwarmNode[]) : [];
    },
  );
  return new Map(
    nodes.map((n) => [
      n.ID,
      {
        name: n.Description?.Hostname ?? n.ID,
        availability: n.Spec?.Availability ?? "active",
        state: n.Status?.State ?? "unknown",
      },
    ]),
  );
}

/**
 * Why some of a long-running service's replicas do not run: per slot with no
 * running task, its last task that ended (failed, or shut down on a node that
 * is now drained, paused or down). Read from the task history the manager
 * keeps for every node.
 */
export function gapsOf(
  own: SwarmTask[],
  nodes: Map<string, { name: string; availability: string; state: string }>,
): NonNullable<RunningService["gaps"]> {
  const slots = new Map<string, SwarmTask[]>();
  for (const task of own) {
    const key = task.Slot !== undefined && task.Slot > 0 ? `slot ${task.Slot}` : `node ${task.NodeID ?? "?"}`;
    slots.set(key, [...(slots.get(key) ?? []), task]);
  }
  const gaps: NonNullable<RunningService["gaps"]> = [];
  for (const tasks of slots.values()) {
    const newest = [...tasks].sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
    const current = newest.find((t) => t.DesiredState === "running" || t.DesiredState === "ready");
    if (current?.Status.State === "running") {
      const node = nodes.get(current.NodeID ?? "");
      if (node && node.state === "down") gaps.push({ node: node.name, cause: "node down" });
      continue;
    }
    if (!current) continue; // a slot being scaled away
    const ended = newest.find(
      (t) => t !== current && t.DesiredState !== "running" && t.DesiredState !== "ready",
    );
    const node = ended?.NodeID ? nodes.get(ended.NodeID) : undefined;
    if (node && node.availability !== "active")
      gaps.push({ node: node.name, cause: `node ${node.availability === "drain" ? "drained" : "paused"}` });
    else if (node && node.state === "down") gaps.push({ node: node.name, cause: "node down" });
    else if (ended && (ended.Status.State === "failed" || ended.Status.State === "rejected"))
      gaps.push({
        ...(node ? { node: node.name } : {}),
        cause: ended.Status.State,
        ...(ended.Status.Err ? { detail: ended.Status.Err } : {}),
      });
    else
      gaps.push({
        cause: current.Status.State,
        ...(current.Status.Err ? { detail: current.Status.Err } : {}),
      });
  }
  return gaps;
}

/**
 * How often convergence is checked: a check over the engine socket costs
 * ~2 ms, so it can look four times a second; over the docker CLI (three
 * processes a check) once a second.
 */
const pollInterval = (ctx: BackendContext): number => (localEngineSocket(ctx.target) ? 250 : 1000);

function docker(ctx: BackendContext, ...args: string[]): string[] {
  return ["docker", ...dockerGlobalArgs(ctx.target), ...args];
}

/** Swarm services matching the engine's `filters`. */
async function listServices(
  engine: DockerEngine,
  filters: Record<string, string[]>,
): Promise<SwarmService[]> {
  const reply = await engine.request<SwarmService[]>("GET", `/services?filters=${engineFilters(filters)}`);
  if (reply.status !== 200)
    throw new KaupangError("ERR_COMMAND_FAILED", `listing swarm services failed: ${engineMessage(reply)}`);
  return reply.body;
}

/** Services by exact name (the engine's name filter matches prefixes). */
async function inspectServices(ctx: BackendContext, names: string[]): Promise<Map<string, SwarmService>> {
  const found = new Map<string, SwarmService>();
  if (names.length === 0) return found;
  const services = await withEngine(
    ctx.target,
    (engine) => listServices(engine, { name: names }),
    async () => {
      const result = await exec(docker(ctx, "service", "inspect", ...names), { quiet: true });
      // Exit 1 with a partial array when some services do not exist (yet).
      const text = result.stdout.trim();
      return text.startsWith("[") ? (JSON.parse(text) as SwarmService[]) : [];
    },
  );
  for (const service of services)
    if (names.includes(service.Spec.Name)) found.set(service.Spec.Name, service);
  return found;
}

/** Every task of the named services, the finished ones too. */
async function tasksOf(ctx: BackendContext, names: string[]): Promise<SwarmTask[]> {
  if (names.length === 0) return [];
  return withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request<SwarmTask[]>(
        "GET",
        `/tasks?filters=${engineFilters({ service: names })}`,
      );
      // 404: a service is not there (yet, or any more); its tasks are none.
      if (reply.status === 404)
        return names.length === 1 ? [] : (await Promise.all(names.map((n) => tasksOf(ctx, [n])))).flat();
      if (reply.status !== 200)
        throw new KaupangError("ERR_COMMAND_FAILED", `listing swarm tasks failed: ${engineMessage(reply)}`);
      return reply.body;
    },
    async () => {
      const ids = await exec(docker(ctx, "service", "ps", "--no-trunc", "-q", ...names), { quiet: true });
      const list = outputLines(ids.stdout);
      if (list.length === 0) return [];
      const result = await exec(docker(ctx, "inspect", "--type", "task", ...new Set(list)), { quiet: true });
      const text = result.stdout.trim();
      return text.startsWith("[") ? (JSON.parse(text) as SwarmTask[]) : [];
    },
  );
}

/** Names of the stack's services. */
async function stackServices(ctx: BackendContext, stack: string): Promise<string[]> {
  const label = `com.docker.stack.namespace=${stack}`;
  return withEngine(
    ctx.target,
    async (engine) => (await listServices(engine, { label: [label] })).map((service) => service.Spec.Name),
    async () => {
      const listed = await exec(
        docker(ctx, "service", "ls", "--filter", `label=${label}`, "--format", "{{.Name}}"),
        {
          quiet: true,
        },
      );
      return outputLines(listed.stdout);
    },
  );
}

/** Whether anything labelled with the stack is left: services, task containers, networks. */
async function stackLeftovers(ctx: BackendContext, stack: string): Promise<boolean> {
  const label = `com.docker.stack.namespace=${stack}`;
  return withEngine(
    ctx.target,
    async (engine) => {
      const by = engineFilters({ label: [label] });
      const replies = await Promise.all(
        [`/services?filters=${by}`, `/containers/json?all=1&filters=${by}`, `/networks?filters=${by}`].map(
          (path) => engine.request<unknown[]>("GET", path),
        ),
      );
      return replies.some((reply) => reply.status !== 200 || reply.body.length > 0);
    },
    async () => {
      const checks = await Promise.all([
        exec(docker(ctx, "service", "ls", "-q", "--filter", `label=${label}`), { quiet: true }),
        exec(docker(ctx, "ps", "-aq", "--filter", `label=${label}`), { quiet: true }),
        exec(docker(ctx, "network", "ls", "-q", "--filter", `label=${label}`), { quiet: true }),
      ]);
      return checks.some((c) => c.stdout.trim() !== "");
    },
  );
}

async function lastLogs(ctx: BackendContext, service: string): Promise<string> {
  const logs = await exec(docker(ctx, "service", "logs", "--raw", "--tail", "5", service), { quiet: true });
  return tail(logs.stdout, 3) || tail(logs.stderr, 3);
}

interface WaveWait {
  env: string;
  stack: string;
  services: string[];
  runOnce: string[];
  /** Task IDs that existed before this deploy: a one-shot service must run a new one. */
  oldTasks: Set<string>;
  /**
   * When each service's update status began before this deploy: a status that
   * still began then is an earlier update's (say, swarm's rollback of the
   * last deploy), not this one's.
   */
  earlierUpdates: Map<string, string>;
}

/** Poll until every service of the wave converged; throw naming the first that failed or did not. */
async function converge(ctx: BackendContext, wait: WaveWait): Promise<void> {
  const names = wait.services.map((s) => `${wait.stack}_${s}`);
  const deadline = Date.now() + ctx.timeoutMs;
  const status = new Map<string, string>();
  const wedges: Wedges = { since: new Map(), forced: new Map() };
  for (;;) {
    const services = await inspectServices(ctx, names);
    const tasks = await tasksOf(ctx, [...services.keys()]);
    let pending = 0;
    for (const short of wait.services) {
      const name = `${wait.stack}_${short}`;
      const service = services.get(name);
      if (!service) {
        pending++;
        status.set(short, "service not created yet");
        continue;
      }
      const own = tasks.filter((t) => t.ServiceID === service.ID);
      if (wait.runOnce.includes(short)) {
        const fresh = own
          .filter((t) => !wait.oldTasks.has(t.ID))
          .sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt));
        const task = fresh[0];
        if (task?.Status.State === "complete") continue;
        if (task && ["failed", "rejected", "shutdown", "orphaned"].includes(task.Status.State)) {
          const code = task.Status.ContainerStatus?.ExitCode;
          const logs = await lastLogs(ctx, name);
          throw new KaupangError(
            "ERR_DEPLOY_FAILED",
            `${wait.env}: one-shot service ${short} ${code !== undefined ? `exited with code ${code}` : task.Status.State}${task.Status.Err ? ` (${task.Status.Err})` : ""}`,
            {
              ...(logs ? { hint: `last log lines: ${logs}` } : {}),
              details: { environment: wait.env, service: short },
            },
          );
        }
        pending++;
        status.set(short, task ? `task ${task.Status.State}` : "no task yet");
        continue;
      }
      const earlier =
        service.UpdateStatus?.StartedAt !== undefined &&
        wait.earlierUpdates.get(name) === service.UpdateStatus.StartedAt;
      const update = earlier ? "" : (service.UpdateStatus?.State ?? "");
      const rolledBack = (why: string) =>
        new KaupangError("ERR_DEPLOY_FAILED", `${wait.env}: swarm rolled back service ${short} (${why})`, {
          hint: `see \`docker service ps --no-trunc ${name}\``,
          details: { environment: wait.env, service: short },
        });
      const forcedAfter = wedges.forced.get(name);
      if (forcedAfter !== undefined && update !== "rollback_started") {
        // Swarm's wedged rollback was forced on: report the rollback once that update is done.
        if (update === "updating" && Date.now() <= deadline) {
          pending++;
          status.set(short, `swarm is finishing its rollback (${forcedAfter}), forced`);
          continue;
        }
        throw rolledBack(forcedAfter);
      }
      if (update.startsWith("rollback") || update === "paused") {
        const why = `${update}${service.UpdateStatus?.Message ? `: ${service.UpdateStatus.Message}` : ""}`;
        // Swarm is undoing the update itself: let it finish (within the deadline), so what runs has
        // settled before the failure is reported — and before a rollback on failure deploys again
        // (a new update during swarm's own rollback races it for the service's tasks and ports).
        if (update === "rollback_started" && Date.now() <= deadline) {
          await unwedgeRollback(ctx, wait.env, short, service, own, wedges);
          pending++;
          status.set(short, `swarm is rolling back the update (${why})`);
          continue;
        }
        if (update !== "paused") throw rolledBack(why);
        throw new KaupangError(
          "ERR_DEPLOY_FAILED",
          `${wait.env}: swarm paused the update of service ${short} (${why})`,
          {
            hint: `see \`docker service ps --no-trunc ${name}\``,
            details: { environment: wait.env, service: short },
          },
        );
      }

      const wanted = service.Spec.Mode.Replicated?.Replicas ?? 1;
      const desired = own.filter((t) => t.DesiredState === "running");
      // Right after `stack deploy` swarm may not have started the update yet: the old
      // task still runs and UpdateStatus is empty. Only a task of the current spec counts.
      const image = (service.Spec.TaskTemplate as { ContainerSpec?: { Image?: string } } | undefined)
        ?.ContainerSpec?.Image;
      const current = (t: SwarmTask) =>
        !image || !t.Spec?.ContainerSpec?.Image || t.Spec.ContainerSpec.Image === image;
      const running = desired.filter((t) => t.Status.State === "running" && current(t)).length;
      const converged =
        running >= wanted && desired.length === running && (update === "" || update === "completed");
      if (!converged) {
        pending++;
        const failed = own
          .filter((t) => t.Status.Err)
          .sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt))[0];
        status.set(
          short,
          `${running}/${wanted} tasks running${update && update !== "completed" ? `, update ${update}` : ""}${failed ? `; last task error: ${failed.Status.Err}` : ""}`,
        );
      }
    }
    if (pending === 0) return;
    if (Date.now() > deadline) {
      const [short, why] = [...status].find(([s]) => wait.services.includes(s)) ?? ["?", "unknown"];
      const logs = await lastLogs(ctx, `${wait.stack}_${short}`);
      throw new KaupangError(
        "ERR_DEPLOY_TIMEOUT",
        `${wait.env}: service ${short} did not converge within ${Math.round(ctx.timeoutMs / 1000)}s (${why})`,
        {
          ...(logs ? { hint: `last log lines: ${logs}` } : {}),
          details: { environment: wait.env, service: short },
        },
      );
    }
    await sleep(pollInterval(ctx));
  }
}

/**
 * The wave's services, once swarm has finished rolling any of them back on its
 * own (a failed update of the last deploy): a new update started during that
 * rollback races it for the service's tasks and host ports. Waits up to the
 * deploy timeout, then refuses with one line rather than deploy over it.
 *
 * Swarm can wedge such a rollback for good: a restart of the failed task, made
 * while the rollback's task held a host port, stays pending though swarm wants
 * it shut down, and the rollback's task waits (stop-first) for it forever. A
 * forced update of the service (its spec is already the rolled-back one)
 * replaces both; it is done once a wedge has lasted a few seconds.
 */
async function settledServices(
  ctx: BackendContext,
  env: string,
  stack: string,
  wave: readonly string[],
): Promise<Map<string, SwarmService>> {
  const names = wave.map((s) => `${stack}_${s}`);
  const deadline = Date.now() + ctx.timeoutMs;
  const wedges: Wedges = { since: new Map(), forced: new Map() };
  let said = false;
  for (;;) {
    const services = await inspectServices(ctx, names);
    const busy = [...services].filter(([, s]) => s.UpdateStatus?.State === "rollback_started");
    if (busy.length === 0) return services;
    const tasks = await tasksOf(
      ctx,
      busy.map(([name]) => name),
    );
    for (const [name, service] of busy)
      await unwedgeRollback(ctx, env, name.slice(stack.length + 1), service, tasks, wedges);
    const short = busy[0]![0].slice(stack.length + 1);
    if (Date.now() > deadline) {
      throw new KaupangError(
        "ERR_DEPLOY_TIMEOUT",
        `${env}: swarm was still rolling back service ${short} after ${Math.round(ctx.timeoutMs / 1000)}s; nothing was deployed over it`,
        {
          hint: `see \`docker service ps --no-trunc ${busy[0]![0]}\``,
          details: { environment: env, service: short },
        },
      );
    }
    if (!said) {
      ctx.events({
        type: "stage",
        scope: env,
        message: `waiting for swarm to finish rolling back service ${short}`,
      });
      said = true;
    }
    await sleep(pollInterval(ctx));
  }
}

/** How long a rollback may look wedged (a pending task swarm wants shut down) before it is forced on. */
const WEDGE_GRACE_MS = 3000;

/**
 * A rollback swarm cannot finish on its own: a task of the service that was
 * never placed on a node (pending) though swarm wants it shut down.
 */
export function rollbackWedged(
  service: Pick<SwarmService, "ID" | "UpdateStatus">,
  tasks: readonly Pick<SwarmTask, "ServiceID" | "DesiredState" | "Status">[],
): boolean {
  return (
    service.UpdateStatus?.State === "rollback_started" &&
    tasks.some(
      (t) => t.ServiceID === service.ID && t.DesiredState === "shutdown" && t.Status.State === "pending",
    )
  );
}

/** Services whose rollback looked wedged, since when; those already forced on, with why swarm rolled them back. */
interface Wedges {
  since: Map<string, number>;
  forced: Map<string, string>;
}

/**
 * One look at a service that swarm is rolling back: when a task of it has
 * stayed pending though swarm wants it shut down for WEDGE_GRACE_MS, force an
 * update of the service once (see settledServices).
 */
async function unwedgeRollback(
  ctx: BackendContext,
  env: string,
  short: string,
  service: SwarmService,
  tasks: readonly SwarmTask[],
  wedges: Wedges,
): Promise<void> {
  const name = service.Spec.Name;
  if (!rollbackWedged(service, tasks)) {
    wedges.since.delete(name);
    return;
  }
  const since = wedges.since.get(name) ?? Date.now();
  wedges.since.set(name, since);
  if (wedges.forced.has(name) || Date.now() - since < WEDGE_GRACE_MS) return;
  const message = service.UpdateStatus?.Message;
  wedges.forced.set(name, `rollback_started${message ? `: ${message}` : ""}`);
  ctx.events({
    type: "stage",
    scope: env,
    message: `swarm's rollback of service ${short} is stuck behind a task it never placed: forcing an update of ${short}`,
  });
  await execOk(swarmRerunCommand(ctx, { environment: env }, short).argv, `${env}: force ${name}`, {
    events: ctx.events,
    scope: env,
  });
}

async function applyEnvironment(ctx: BackendContext, env: EnvironmentPlan): Promise<void> {
  const stack = stackName(ctx.project, env.environment);
  for (let i = 0; i < env.waves.length; i++) {
    const wave = env.waves[i]!;
    const runOnce = wave.filter((s) => env.runOnce.includes(s));
    const runOnceNames = runOnce.map((s) => `${stack}_${s}`);
    const before = await inspectServices(ctx, runOnceNames);
    const oldTasks = new Set((await tasksOf(ctx, [...before.keys()])).map((t) => t.ID));
    const current = await settledServices(ctx, env.environment, stack, wave);
    const earlierUpdates = new Map(
      [...current].flatMap(([name, service]) =>
        service.UpdateStatus?.StartedAt ? [[name, service.UpdateStatus.StartedAt] as const] : [],
      ),
    );
    const deploy = stackDeployCommand(ctx, env, i);
    if (env.waves.length > 1)
      ctx.events({ type: "stage", scope: env.environment, message: deploy.description });
    await execOk(deploy.argv, `${env.environment}: stack deploy`, {
      cwd: ctx.root,
      events: ctx.events,
      scope: env.environment,
    });
    // stack deploy re-runs a one-shot service only when its task template changed
    // (the service version moves either way): otherwise force a new task.
    const after = await inspectServices(ctx, runOnceNames);
    for (const [name, service] of after) {
      const previous = before.get(name);
      if (
        previous &&
        JSON.stringify(previous.Spec.TaskTemplate) === JSON.stringify(service.Spec.TaskTemplate)
      ) {
        const rerun = swarmRerunCommand(ctx, env, name.slice(stack.length + 1));
        await execOk(rerun.argv, `${env.environment}: re-run ${name}`, {
          events: ctx.events,
          scope: env.environment,
        });
      }
    }
    await converge(ctx, { env: env.environment, stack, services: wave, runOnce, oldTasks, earlierUpdates });
  }
}

/** Wait until nothing labelled with the stack is left (services, task containers, networks). */
async function waitGone(ctx: BackendContext, envName: string, stack: string): Promise<void> {
  const deadline = Date.now() + ctx.timeoutMs;
  for (;;) {
    if (!(await stackLeftovers(ctx, stack))) return;
    if (Date.now() > deadline) {
      throw new KaupangError(
        "ERR_DEPLOY_TIMEOUT",
        `${envName}: stack ${stack} was not gone within ${Math.round(ctx.timeoutMs / 1000)}s`,
      );
    }
    await sleep(pollInterval(ctx));
  }
}

export const swarmBackend: Backend = {
  prepare: prefetchProjectNetwork,

  async apply(ctx, env) {
    await ensureProjectNetwork(ctx, env.environment);
    await applyEnvironment(ctx, env);
  },

  async remove(ctx, env) {
    const stack = stackName(ctx.project, env.environment);
    await execOk(stackRemoveCommand(ctx, env).argv, `${env.environment}: stack rm`, {
      events: ctx.events,
      scope: env.environment,
    });
    ctx.events({ type: "stage", scope: env.environment, message: `waiting until stack ${stack} is gone` });
    await waitGone(ctx, env.environment, stack);
    await removeProjectNetworkIfUnused(ctx, env.environment);
  },

  async running(ctx, env) {
    const stack = stackName(ctx.project, env.environment);
    const names = await stackServices(ctx, stack);
    const services = await inspectServices(ctx, names);
    const tasks = await tasksOf(ctx, names);
    const out: RunningService[] = [];
    // Nodes are asked for only when some replica does not run (the no-change path stays as cheap).
    let nodes: Awaited<ReturnType<typeof nodesOf>> | undefined;
    for (const [name, service] of services) {
      const short = name.slice(stack.length + 1);
      const own = tasks.filter((t) => t.ServiceID === service.ID);
      const runOnce = env.runOnce.includes(short);
      // A one-shot service "runs" its newest task; a long-running one its current tasks.
      const current = runOnce
        ? own.sort((a, b) => b.CreatedAt.localeCompare(a.CreatedAt)).slice(0, 1)
        : own.filter((t) => t.DesiredState === "running");
      const wanted = service.Spec.Mode.Replicated?.Replicas;
      const short_of =
        !runOnce &&
        (current.some((t) => t.Status.State !== "running") ||
          (wanted !== undefined && current.length < wanted));
      let gaps: RunningService["gaps"];
      if (short_of) {
        nodes ??= await nodesOf(ctx);
        gaps = gapsOf(own, nodes);
      }
      out.push({
        service: short,
        ...(gaps && gaps.length > 0 ? { gaps } : {}),
        instances: current.map((t) => {
          const ref = t.Spec?.ContainerSpec?.Image ?? "";
          const at = ref.indexOf("@");
          const exitCode = t.Status.ContainerStatus?.ExitCode;
          return {
            digests: at === -1 ? [] : [ref.slice(at + 1)],
            ref,
            name: t.Slot !== undefined ? `${name}.${t.Slot}` : `${name}.${t.ID}`,
            state: t.Status.State,
            ...(t.Status.State === "complete" || t.Status.State === "failed"
              ? { exitCode: exitCode ?? 0 }
              : {}),
            env: envMap(t.Spec?.ContainerSpec?.Env),
            ports: (service.Spec.EndpointSpec?.Ports ?? [])
              .filter((p) => p.PublishedPort !== undefined)
              .map((p) => `${p.PublishedPort}:${p.TargetPort}/${p.Protocol ?? "tcp"}`)
              .sort(),
          };
        }),
      });
    }
    return out;
  },
};
