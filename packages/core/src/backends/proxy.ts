/**
 * The proxy of an engine, as kaupang runs it for environments with routes:
 * a Caddy container (compose) or swarm service, named and labelled by
 * kaupang, on each routed project's network; routes set through its admin
 * API (only kaupang's own: see plan/proxy-requests.ts); and taken away with
 * the last route. Every command and request comes from plan/.
 */
import { KaupangError } from "../base/errors.js";
import type { ProxySettings } from "../base/target.js";
import { withEngine } from "../exec/docker-engine.js";
import { exec, execOk } from "../exec/exec.js";
import { dockerGlobalArgs } from "../plan/commands.js";
import {
  bootstrapConfigName,
  bootstrapConfigText,
  proxyConfigCopyCommand,
  proxyConfigCreateCommand,
  proxyConnectCommand,
  proxyContainerCreateCommand,
  proxyContainerRemoveCommand,
  proxyDisconnectCommand,
  proxyLabel,
  proxyServiceCreateCommand,
  proxyServiceNetworkCommand,
  proxyServiceRemoveCommand,
  proxyStartCommand,
} from "../plan/proxy-commands.js";
import { type DesiredRoute, routeRemovalRequests, routeSyncRequests } from "../plan/proxy-requests.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { projectNetworkName } from "../render/names.js";
import {
  bootstrapConfigPath,
  caddyRoute,
  dials,
  environmentRoutePrefix,
  projectServerName,
  proxyContainerPorts,
  proxyOf,
} from "../render/routes.js";
import type { Backend, BackendContext } from "./backend.js";
import { adminOk, readConfig, unreachableError, waitForAdmin } from "./caddy-admin.js";
import { ensureProjectNetwork, removeProjectNetworkIfUnused } from "./network.js";

type Routed = Pick<EnvironmentPlan, "environment" | "routes">;

const docker = (ctx: BackendContext): string[] => ["docker", ...dockerGlobalArgs(ctx.target)];
const swarm = (ctx: BackendContext): boolean => ctx.target.backend === "swarm";

/** What kaupang checks of an existing proxy. */
interface ProxyState {
  kaupang: boolean;
  running: boolean;
  image: string;
  /** Names (compose) or IDs (swarm) of the networks it is on. */
  networks: string[];
  /** Container port → published "host:port" or "port". */
  published: Record<number, string>;
}

/** One object inspected over the engine socket (a ~1 ms request), or with the docker CLI for other engines. */
async function inspectJson(
  ctx: BackendContext,
  enginePath: string,
  args: string[],
): Promise<Record<string, unknown> | undefined> {
  return withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request<Record<string, unknown>>("GET", enginePath);
      return reply.status === 200 ? reply.body : undefined;
    },
    async () => {
      const result = await exec([...docker(ctx), ...args], { quiet: true });
      if (result.exitCode !== 0) return undefined;
      const parsed = JSON.parse(result.stdout.trim() || "[]") as Record<string, unknown>[];
      return parsed[0];
    },
  );
}

// biome-ignore lint/suspicious/noExplicitAny: docker inspect output, read by known paths
type Inspect = any;

async function inspectProxy(ctx: BackendContext, proxy: ProxySettings): Promise<ProxyState | undefined> {
  if (swarm(ctx)) {
    const s: Inspect = await inspectJson(ctx, `/services/${encodeURIComponent(proxy.name)}`, [
      "service",
      "inspect",
      proxy.name,
    ]);
    if (!s) return undefined;
    const ports: { TargetPort: number; PublishedPort?: number }[] = s.Spec?.EndpointSpec?.Ports ?? [];
    return {
      kaupang: s.Spec?.Labels?.[proxyLabel] === proxy.name,
      running: true,
      image: String(s.Spec?.TaskTemplate?.ContainerSpec?.Image ?? "").replace(/@sha256:.*$/, ""),
      networks: (s.Spec?.TaskTemplate?.Networks ?? []).map((n: { Target: string }) => n.Target),
      published: Object.fromEntries(ports.map((p) => [p.TargetPort, String(p.PublishedPort ?? "")])),
    };
  }
  const c: Inspect = await inspectJson(ctx, `/containers/${encodeURIComponent(proxy.name)}/json`, [
    "container",
    "inspect",
    proxy.name,
  ]);
  if (!c) return undefined;
  const bindings: Record<string, { HostIp: string; HostPort: string }[] | null> =
    c.NetworkSettings?.Ports ?? {};
  return {
    kaupang: c.Config?.Labels?.[proxyLabel] === proxy.name,
    running: c.State?.Running === true,
    image: String(c.Config?.Image ?? ""),
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
    published: Object.fromEntries(
      Object.entries(bindings).flatMap(([key, list]) => {
        const first = list?.[0];
        if (!first) return [];
        const host =
          first.HostIp && first.HostIp !== "0.0.0.0" && first.HostIp !== "::" ? `${first.HostIp}:` : "";
        return [[Number(key.split("/")[0]), `${host}${first.HostPort}`]];
      }),
    ),
  };
}

/** A proxy made for other settings would not answer where this target expects it. */
function checkPublished(ctx: BackendContext, proxy: ProxySettings, state: ProxyState): void {
  const recreate = `give the target's proxy another name, or remove the proxy (${swarm(ctx) ? "docker service rm" : "docker rm -f"} ${proxy.name}) so kaupang recreates it; routes are restored by their next deploy`;
  const admin = state.published[proxyContainerPorts.admin] ?? "";
  const adminPort = proxy.adminAddress.slice(proxy.adminAddress.lastIndexOf(":") + 1);
  if (admin.split(":").pop() !== adminPort) {
    throw unreachableError(
      proxy,
      new Error(admin ? `the proxy publishes it at ${admin}` : "the proxy does not publish it"),
      recreate,
    );
  }
  const expected: [string, number, number][] = [
    ["HTTP", proxyContainerPorts.http, proxy.httpPort],
    ["HTTPS", proxyContainerPorts.https, proxy.httpsPort],
  ];
  for (const [what, port, want] of expected) {
    const have = state.published[port] ?? "";
    if (have.split(":").pop() !== String(want)) {
      throw new KaupangError(
        "ERR_PROXY_MISMATCH",
        `proxy ${proxy.name} publishes ${what} on ${have || "no port"}, but target ${ctx.target.name} expects ${want}; nothing was deployed`,
        { hint: recreate },
      );
    }
  }
}

/** A tar holding one file (ustar, as `docker cp -` reads it). */
export function tarOf(path: string, content: string): string {
  const header = (name: string, size: number, type: "0" | "5", mode: string) => {
    const field = (value: string, length: number) => value.padEnd(length, "\0").slice(0, length);
    const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, "0")}\0`;
    const head = [
      field(name, 100),
      octal(Number.parseInt(mode, 8), 8),
      octal(0, 8),
      octal(0, 8),
      octal(size, 12),
      octal(0, 12),
      "        ",
      type,
      field("", 100),
      field("ustar", 6),
      "00",
      field("root", 32),
      field("root", 32),
      field("", 8),
      field("", 8),
      field("", 155),
      field("", 12),
    ].join("");
    let sum = 0;
    for (let i = 0; i < head.length; i++) sum += head.charCodeAt(i);
    return head.slice(0, 148) + `${sum.toString(8).padStart(6, "0")}\0 ` + head.slice(156);
  };
  const dirs = path.split("/").slice(0, -1);
  const entries = dirs.map((_, i) => header(`${dirs.slice(0, i + 1).join("/")}/`, 0, "5", "755"));
  const padding = "\0".repeat((512 - (content.length % 512)) % 512);
  return [...entries, header(path, content.length, "0", "644"), content, padding, "\0".repeat(1024)].join("");
}

/** Does the engine's kernel hand a closing listener's queue to its successor (Linux 5.14+)? */
async function kernelMigratesAcceptQueue(ctx: BackendContext): Promise<boolean> {
  const version = await withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request<{ KernelVersion?: string }>("GET", "/info");
      return reply.status === 200 ? (reply.body.KernelVersion ?? "") : "";
    },
    async () =>
      (await exec([...docker(ctx), "info", "--format", "{{.KernelVersion}}"], { quiet: true })).stdout,
  );
  return kernelAtLeast(version, 5, 14);
}

/** "6.18.44-fc" ≥ 5.14? An unreadable version is not. */
export function kernelAtLeast(version: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version.trim());
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

async function createContainerProxy(ctx: BackendContext, proxy: ProxySettings, scope: string): Promise<void> {
  const run = { events: ctx.events, scope };
  const migrate = await kernelMigratesAcceptQueue(ctx);
  await execOk(
    proxyContainerCreateCommand(ctx, docker(ctx), migrate).argv,
    `proxy ${proxy.name}: create`,
    run,
  );
  await execOk(proxyConfigCopyCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: bootstrap config`, {
    ...run,
    input: tarOf(bootstrapConfigPath.slice(1), bootstrapConfigText()),
  });
  await execOk(proxyStartCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: start`, run);
}

async function createServiceProxy(ctx: BackendContext, proxy: ProxySettings, scope: string): Promise<void> {
  const run = { events: ctx.events, scope };
  const exists = await exec([...docker(ctx), "config", "inspect", bootstrapConfigName(proxy.name)], {
    quiet: true,
  });
  if (exists.exitCode !== 0) {
    await execOk(proxyConfigCreateCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: bootstrap config`, {
      ...run,
      input: bootstrapConfigText(),
    });
  }
  await execOk(proxyServiceCreateCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: create`, run);
}

/** How long a new or restarted proxy may take to answer (an image pull, a swarm task start). */
const startTimeoutMs = 60_000;

/** Wait for the admin API: a proxy kaupang just created or restarted gets time to start. */
async function waitAnswering(
  ctx: BackendContext,
  proxy: ProxySettings,
  scope: string,
  how: "created" | "restarted" | "running",
) {
  const created = how === "created";
  if (how !== "running")
    ctx.events({ type: "stage", scope, message: `waiting for the admin API of proxy ${proxy.name}` });
  const failure = await waitForAdmin(proxy, how === "running" ? 3_000 : startTimeoutMs);
  if (failure === undefined) return;
  if (created) {
    // A proxy kaupang just made and that never answered is taken away again.
    const remove = swarm(ctx) ? proxyServiceRemoveCommand : proxyContainerRemoveCommand;
    await exec(remove(ctx, docker(ctx)).argv, { events: ctx.events, scope });
  }
  throw unreachableError(
    proxy,
    failure,
    created
      ? `kaupang started ${proxy.name} (and removed it again): is ${proxy.image} a Caddy 2.6+ image, and is ${proxy.adminAddress} an address of this host?`
      : undefined,
  );
}

/** The swarm update of the proxy has finished (its task restarted on the new networks). */
async function waitServiceUpdated(ctx: BackendContext, proxy: ProxySettings): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    const s: Inspect = await inspectJson(ctx, `/services/${encodeURIComponent(proxy.name)}`, [
      "service",
      "inspect",
      proxy.name,
    ]);
    const state = s?.UpdateStatus?.State;
    if (!state || state === "completed") return;
    if (state.startsWith("rollback") || state === "paused")
      throw new KaupangError("ERR_PROXY_UPDATE", `proxy ${proxy.name}: swarm ${state} its update`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Wait until no task container of the proxy service is left on this engine. */
async function waitTasksGone(ctx: BackendContext, proxy: ProxySettings, scope: string): Promise<void> {
  ctx.events({ type: "stage", scope, message: `waiting until the tasks of proxy ${proxy.name} are gone` });
  const deadline = Date.now() + ctx.timeoutMs;
  const label = `label=com.docker.swarm.service.name=${proxy.name}`;
  while (Date.now() < deadline) {
    const left = await exec([...docker(ctx), "ps", "-aq", "--filter", label], { quiet: true });
    if (left.exitCode === 0 && left.stdout.trim() === "") return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function networkId(ctx: BackendContext): Promise<string> {
  const result = await exec(
    [...docker(ctx), "network", "inspect", "--format", "{{.Id}}", projectNetworkName(ctx.project)],
    { quiet: true },
  );
  return result.stdout.trim();
}

const readiness = new WeakMap<BackendContext, Promise<void>>();
const attachments = new WeakMap<BackendContext, Promise<void>>();

function once(cache: WeakMap<BackendContext, Promise<void>>, ctx: BackendContext, run: () => Promise<void>) {
  let pending = cache.get(ctx);
  if (!pending) {
    pending = run();
    cache.set(ctx, pending);
  }
  return pending;
}

/**
 * Make sure the target's proxy runs and answers its admin API (once per
 * deploy). An existing one is checked without touching anything; a missing
 * one is created on the project network.
 */
export function ensureProxy(ctx: BackendContext, scope: string): Promise<void> {
  return once(readiness, ctx, () => readyProxy(ctx, scope));
}

/** Make sure the proxy is on the project network, so it reaches the project's services by name. */
export function attachProxy(ctx: BackendContext, scope: string): Promise<void> {
  return once(attachments, ctx, () => attach(ctx, scope));
}

async function readyProxy(ctx: BackendContext, scope: string): Promise<void> {
  const proxy = proxyOf(ctx.target);
  const state = await inspectProxy(ctx, proxy);
  if (!state) {
    // A swarm service is created on the project network (the one it is made for).
    if (swarm(ctx)) await ensureProjectNetwork(ctx, scope);
    await (swarm(ctx) ? createServiceProxy(ctx, proxy, scope) : createContainerProxy(ctx, proxy, scope));
    await waitAnswering(ctx, proxy, scope, "created");
    return;
  }
  if (!state.kaupang) {
    throw new KaupangError(
      "ERR_PROXY_MISMATCH",
      `a ${swarm(ctx) ? "service" : "container"} named ${proxy.name} exists but is not a kaupang proxy (no ${proxyLabel} label); nothing was deployed`,
      { hint: "give the target's proxy another name (proxy.name)" },
    );
  }
  checkPublished(ctx, proxy, state);
  if (state.image !== proxy.image) {
    ctx.events({
      type: "warning",
      scope,
      message: `proxy ${proxy.name} runs ${state.image}, the target says ${proxy.image}: remove the proxy to have it recreated with that image`,
    });
  }
  if (!state.running)
    await execOk(proxyStartCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: start`, {
      events: ctx.events,
      scope,
    });
  await waitAnswering(ctx, proxy, scope, state.running ? "running" : "restarted");
}

async function attach(ctx: BackendContext, scope: string): Promise<void> {
  const proxy = proxyOf(ctx.target);
  const run = { events: ctx.events, scope };
  await ensureProjectNetwork(ctx, scope);
  const state = await inspectProxy(ctx, proxy);
  if (!state) throw new KaupangError("ERR_PROXY_GONE", `proxy ${proxy.name} disappeared during the deploy`);
  if (swarm(ctx)) {
    if (state.networks.includes(await networkId(ctx))) return;
    await execOk(
      proxyServiceNetworkCommand(ctx, docker(ctx), "add").argv,
      `proxy ${proxy.name}: join network`,
      run,
    );
    await waitServiceUpdated(ctx, proxy);
    await waitAnswering(ctx, proxy, scope, "restarted");
  } else if (!state.networks.includes(projectNetworkName(ctx.project))) {
    await execOk(proxyConnectCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: join network`, run);
  }
}

/** The Caddy routes an environment wants, given the upstream hosts of each routed service. */
function desiredRoutes(env: Routed, upstreams: (service: string) => readonly string[]): DesiredRoute[] {
  return (env.routes ?? []).map((route) => ({
    route,
    object: caddyRoute(route, dials(upstreams(route.service), route.port)),
  }));
}

function syncOf(
  ctx: BackendContext,
  env: Routed,
  config: unknown,
  upstreams: (s: string) => readonly string[],
) {
  const proxy = proxyOf(ctx.target);
  return routeSyncRequests({
    config,
    prefix: environmentRoutePrefix(ctx.project, env.environment),
    desired: desiredRoutes(env, upstreams),
    projectServer: proxy.server ? { name: projectServerName(ctx.project), body: proxy.server } : undefined,
  });
}

function conflictError(env: Routed, conflicts: string[]): KaupangError {
  return new KaupangError("ERR_ROUTE_CONFLICT", `${env.environment}: ${conflicts[0]}; nothing was deployed`, {
    hint: "each host and path goes to one service: change the route, or take the other one down first",
  });
}

/** Before anything is deployed: the proxy answers and no other route holds this environment's hosts and paths. */
export async function checkRoutes(ctx: BackendContext, env: Routed): Promise<void> {
  const config = await readConfig(proxyOf(ctx.target), env.environment);
  const { conflicts } = syncOf(ctx, env, config, () => []);
  if (conflicts.length > 0) throw conflictError(env, conflicts);
}

/** Make the proxy hold exactly this environment's routes, to `upstreams` of each service. */
export async function syncRoutes(
  ctx: BackendContext,
  env: Routed,
  upstreams: (service: string) => readonly string[],
): Promise<void> {
  const proxy = proxyOf(ctx.target);
  const config = await readConfig(proxy, env.environment);
  const { requests, conflicts } = syncOf(ctx, env, config, upstreams);
  if (conflicts.length > 0) throw conflictError(env, conflicts);
  for (const { request, description } of requests)
    await adminOk(proxy, request, { events: ctx.events, scope: env.environment, description });
}

/**
 * Take an environment's routes out of the proxy (when the proxy exists), then
 * let the proxy leave the project network once the project has no route left,
 * and remove it once it holds no route at all.
 */
async function removeRoutes(ctx: BackendContext, env: Pick<EnvironmentPlan, "environment">) {
  const proxy = proxyOf(ctx.target);
  const state = await inspectProxy(ctx, proxy);
  if (!state?.kaupang) return undefined;
  const scope = env.environment;
  if (!state.running) return undefined;
  const config = await readConfig(proxy, scope);
  const removal = routeRemovalRequests({
    config,
    project: ctx.project,
    prefix: environmentRoutePrefix(ctx.project, env.environment),
    projectServer: projectServerName(ctx.project),
  });
  for (const { request, description } of removal.requests)
    await adminOk(proxy, request, { events: ctx.events, scope, description });
  return { removal, state };
}

/** After the environment is gone: the proxy leaves the network, or goes, as `removeRoutes` found. */
async function releaseProxy(
  ctx: BackendContext,
  scope: string,
  found: Awaited<ReturnType<typeof removeRoutes>>,
): Promise<void> {
  if (!found) return;
  const { removal } = found;
  const run = { events: ctx.events, scope };
  const proxy = proxyOf(ctx.target);
  if (!removal.proxyHasRoutes) {
    const remove = swarm(ctx) ? proxyServiceRemoveCommand : proxyContainerRemoveCommand;
    await execOk(remove(ctx, docker(ctx)).argv, `proxy ${proxy.name}: remove`, run);
    if (swarm(ctx)) {
      // The task stops in the background; until it is gone the project network and the config are in use.
      await waitTasksGone(ctx, proxy, scope);
      await exec([...docker(ctx), "config", "rm", bootstrapConfigName(proxy.name)], { quiet: true });
    }
    return;
  }
  if (removal.projectHasRoutes) return;
  if (swarm(ctx)) {
    await execOk(
      proxyServiceNetworkCommand(ctx, docker(ctx), "rm").argv,
      `proxy ${proxy.name}: leave network`,
      run,
    );
    await waitServiceUpdated(ctx, proxy);
  } else {
    await execOk(proxyDisconnectCommand(ctx, docker(ctx)).argv, `proxy ${proxy.name}: leave network`, run);
  }
}

/**
 * The checks of a deploy with routes, before anything is deployed: the
 * proxy runs and answers, and no other route holds one of the environments'
 * hosts and paths. Then the proxy joins the project network.
 */
async function preflightRoutes(ctx: BackendContext, envs: readonly Routed[]): Promise<void> {
  const routed = envs.filter((env) => (env.routes?.length ?? 0) > 0);
  if (routed.length === 0 || ctx.target.backend === "kubernetes") return;
  const scope = routed[0]!.environment;
  await ensureProxy(ctx, scope);
  for (const env of routed) await checkRoutes(ctx, env);
  await attachProxy(ctx, scope);
}

/**
 * One proxy serves every environment on its engine, and `up` deploys
 * independent environments side by side: changes to the proxy (its container,
 * its routes, which are read, then changed by position) run one at a time per
 * engine and proxy within this process.
 */
const proxyTurns = new Map<string, Promise<unknown>>();
function oneAtATime<T>(ctx: BackendContext, work: () => Promise<T>): Promise<T> {
  const key = `${dockerGlobalArgs(ctx.target).join(" ")}\0${proxyOf(ctx.target).name}`;
  const previous = proxyTurns.get(key) ?? Promise.resolve();
  const turn = previous.then(work, work);
  const settled = turn.catch(() => undefined);
  proxyTurns.set(key, settled);
  void settled.then(() => {
    if (proxyTurns.get(key) === settled) proxyTurns.delete(key);
  });
  return turn;
}

/**
 * A backend with routes: environments with routes go through `applyRouted`;
 * the others deploy as `base` does, and lose routes they had before (their
 * services lost their http key). `remove` takes the routes out first, and
 * the proxy off the network (or away) after.
 */
export function withRoutes(
  base: Backend,
  applyRouted: (ctx: BackendContext, env: EnvironmentPlan) => Promise<void>,
): Backend {
  return {
    ...base,
    async apply(ctx, env) {
      if ((env.routes?.length ?? 0) > 0) return oneAtATime(ctx, () => applyRouted(ctx, env));
      await base.apply(ctx, env);
      await oneAtATime(ctx, async () => {
        const found = await removeRoutes(ctx, env);
        if (found && found.removal.requests.length > 0) await releaseProxy(ctx, env.environment, found);
      });
    },
    async remove(ctx, env) {
      // Each removal reads the proxy after the ones before it: the last one out takes the proxy away.
      const found = await oneAtATime(ctx, () => removeRoutes(ctx, env));
      await base.remove(ctx, env);
      if (found) {
        await oneAtATime(ctx, () => releaseProxy(ctx, env.environment, found));
        await removeProjectNetworkIfUnused(ctx, env.environment);
      }
    },
    async preflight(ctx, envs) {
      await base.preflight?.(ctx, envs);
      await oneAtATime(ctx, () => preflightRoutes(ctx, envs));
    },
  };
}
