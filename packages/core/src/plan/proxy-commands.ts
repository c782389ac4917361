/**
 * The commands of an environment with routes, pure: starting the proxy (a
 * container on compose, a service on swarm) when it is missing, attaching it
 * to the project network, the blue/green steps of a compose deploy, and the
 * admin-API requests that set and switch routes. The backends run exactly
 * these; --dry-run prints them. Values only known while deploying (which
 * containers run now) appear as <placeholders>.
 */
import { createHash } from "node:crypto";
import type { PullPolicy, TargetSettings } from "../base/target.js";
import { projectNetworkName, stackName } from "../render/names.js";
import {
  bootstrapConfig,
  bootstrapConfigPath,
  caddyRoute,
  dials,
  environmentRoutePrefix,
  type PlannedRoute,
  projectServerName,
  proxyContainerPorts,
  proxyOf,
  upstreamsPath,
} from "../render/routes.js";
import { adminCommand, routeSyncRequests } from "./proxy-requests.js";
import type { EnvironmentPlan, PlanCommand } from "./types.js";

/** The label on the proxy container or service; its value is the proxy's name. */
export const proxyLabel = "dev.kaupang.proxy";

interface Context {
  project: string;
  target: TargetSettings;
  pull: PullPolicy;
}

type RoutedEnvironment = Pick<EnvironmentPlan, "environment" | "waves" | "routes">;

/** The docker CLI invocation of a target: `docker [--context X]` (commands.ts builds it). */
type DockerArgv = readonly string[];

const adminPublish = (address: string): string => {
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  return `${host === "localhost" ? "127.0.0.1" : host}:${address.slice(colon + 1)}:${proxyContainerPorts.admin}`;
};
const adminPort = (address: string): string => address.slice(address.lastIndexOf(":") + 1);

const caddyCommand = ["caddy", "run", "--resume", "--config", bootstrapConfigPath];
const stateEnv = ["XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/config"];

/** The bootstrap config as the file the proxy starts from. */
export const bootstrapConfigText = (): string => `${JSON.stringify(bootstrapConfig(), null, 2)}\n`;

/** Swarm config objects are immutable: the name carries the content's hash. */
export const bootstrapConfigName = (proxyName: string): string =>
  `${proxyName}-bootstrap-${createHash("sha256").update(bootstrapConfigText()).digest("hex").slice(0, 12)}`;

/**
 * The kernel setting that hands connections queued on a closing listener to
 * the listener that replaces it. Caddy opens a new listener (SO_REUSEPORT) on
 * every config change and closes the old one: without it, a connection that
 * arrived in between is reset (measured: 66 of 20,672 requests over 300
 * reloads; with it, 1 of 25,294). Linux 5.14 and later have it.
 */
const migrateAcceptQueue = "net.ipv4.tcp_migrate_req=1";

/**
 * compose: create the proxy container (only if missing). It stays on docker's
 * default bridge, which carries its published ports; project networks are
 * joined and left beside it. `migrate`: the engine's kernel has
 * migrateAcceptQueue (the plan assumes so).
 */
export function proxyContainerCreateCommand(ctx: Context, docker: DockerArgv, migrate = true): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return {
    argv: [
      ...docker,
      "create",
      "--name",
      proxy.name,
      "--label",
      `${proxyLabel}=${proxy.name}`,
      "--restart",
      "unless-stopped",
      "-p",
      adminPublish(proxy.adminAddress),
      "-p",
      `${proxy.httpPort}:${proxyContainerPorts.http}`,
      "-p",
      `${proxy.httpsPort}:${proxyContainerPorts.https}`,
      "-v",
      `${proxy.name}-data:/data`,
      "-v",
      `${proxy.name}-config:/config`,
      ...stateEnv.flatMap((e) => ["-e", e]),
      ...(migrate ? ["--sysctl", migrateAcceptQueue] : []),
      proxy.image,
      ...caddyCommand,
    ],
    description: `the proxy ${proxy.name}, only if it does not exist (one per engine); --sysctl only on Linux 5.14 or later`,
  };
}

/** compose: put the bootstrap config into the new container (a tar on stdin). */
export function proxyConfigCopyCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return {
    argv: [...docker, "cp", "-", `${proxy.name}:/`],
    description: `only if created: stdin is a tar of ${bootstrapConfigPath.slice(1)}: ${JSON.stringify(bootstrapConfig())}`,
  };
}

export function proxyStartCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return { argv: [...docker, "start", proxy.name], description: "only if created" };
}

/** compose: attach the proxy to the project network, so it reaches containers by name. */
export function proxyConnectCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  const network = projectNetworkName(ctx.project);
  return {
    argv: [...docker, "network", "connect", network, proxy.name],
    description: `only if the proxy is not on network ${network} yet`,
  };
}

export function proxyDisconnectCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  const network = projectNetworkName(ctx.project);
  return {
    argv: [...docker, "network", "disconnect", network, proxy.name],
    description: `only if no route of project ${ctx.project} is left: the proxy leaves network ${network}`,
  };
}

export function proxyContainerRemoveCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return {
    argv: [...docker, "rm", "-f", proxy.name],
    description: `only if no route at all is left in it: remove the proxy (its volumes ${proxy.name}-data, -config stay)`,
  };
}

/** swarm: the bootstrap config as a swarm config object (stdin). */
export function proxyConfigCreateCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  return {
    argv: [...docker, "config", "create", bootstrapConfigName(proxyOf(ctx.target).name), "-"],
    description: `only if missing: stdin is ${JSON.stringify(bootstrapConfig())}`,
  };
}

/** swarm: the proxy as a swarm service (only if missing), ports published as the target publishes. */
export function proxyServiceCreateCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  const mode = ctx.target.swarm?.portMode === "host" ? "mode=host," : "";
  const publish = (published: string | number, target: number) => [
    "--publish",
    `${mode}published=${published},target=${target}`,
  ];
  return {
    argv: [
      ...docker,
      "service",
      "create",
      "--detach",
      "--name",
      proxy.name,
      "--label",
      `${proxyLabel}=${proxy.name}`,
      "--network",
      projectNetworkName(ctx.project),
      ...publish(proxy.httpPort, proxyContainerPorts.http),
      ...publish(proxy.httpsPort, proxyContainerPorts.https),
      ...publish(adminPort(proxy.adminAddress), proxyContainerPorts.admin),
      "--config",
      `source=${bootstrapConfigName(proxy.name)},target=${bootstrapConfigPath}`,
      "--mount",
      `type=volume,source=${proxy.name}-data,target=/data`,
      "--mount",
      `type=volume,source=${proxy.name}-config,target=/config`,
      ...stateEnv.flatMap((e) => ["--env", e]),
      proxy.image,
      ...caddyCommand,
    ],
    description: `the proxy ${proxy.name} as a swarm service, only if it does not exist; then wait until it answers`,
  };
}

export function proxyServiceNetworkCommand(
  ctx: Context,
  docker: DockerArgv,
  change: "add" | "rm",
): PlanCommand {
  const proxy = proxyOf(ctx.target);
  const network = projectNetworkName(ctx.project);
  return {
    argv: [...docker, "service", "update", "--detach", `--network-${change}`, network, proxy.name],
    description:
      change === "add"
        ? `only if the proxy is not on network ${network} yet (swarm restarts its task; its routes are kept)`
        : `only if no route of project ${ctx.project} is left: the proxy leaves network ${network}`,
  };
}

export function proxyServiceRemoveCommand(ctx: Context, docker: DockerArgv): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return {
    argv: [...docker, "service", "rm", proxy.name],
    description: `only if no route at all is left in it: remove the proxy service (its volumes stay)`,
  };
}

function adminCheckCommand(ctx: Context): PlanCommand {
  return adminCommand(
    proxyOf(ctx.target),
    { method: "GET", path: "/config/" },
    "the proxy's admin API must answer (and no other route may hold this environment's hosts and paths) before anything is deployed",
  );
}

/** The upstream host names of a routed service on swarm: the service itself (its tasks by DNS). */
export const swarmUpstream = (project: string, environment: string, service: string): string =>
  `${stackName(project, environment)}_${service}`;

/** Placeholder for container names only known while deploying. */
const containersOf = (service: string, which = ""): string => `<${which}${service} containers>`;

/** The route sync shown in a plan: against a proxy that does not have this environment yet. */
function routeSyncCommands(ctx: Context, env: RoutedEnvironment, upstreams: (service: string) => string[]) {
  const routes = env.routes ?? [];
  const server = proxyOf(ctx.target).server;
  const sync = routeSyncRequests({
    config: bootstrapConfig(),
    prefix: environmentRoutePrefix(ctx.project, env.environment),
    desired: routes.map((route) => ({
      route,
      object: caddyRoute(route, dials(upstreams(route.service), route.port)),
    })),
    projectServer: server ? { name: projectServerName(ctx.project), body: server } : undefined,
  });
  return [
    ...sync.requests.map(({ request, description }) =>
      adminCommand(proxyOf(ctx.target), request, `${description} (PATCH /id/… instead when it exists)`),
    ),
    adminCommand(
      proxyOf(ctx.target),
      { method: "DELETE", path: `/id/${environmentRoutePrefix(ctx.project, env.environment)}<…>` },
      "remove this environment's routes that are no longer configured, only if there are any",
    ),
  ];
}

/** The routed services of an environment, in wave order. */
export const routedServicesOf = (env: RoutedEnvironment): string[] => {
  const routed = new Set((env.routes ?? []).map((r) => r.service));
  return env.waves.flat().filter((s) => routed.has(s));
};

/** Services of the waves before the first routed service's: none of them can depend on a routed one. */
export function servicesBeforeRouted(env: RoutedEnvironment): string[] {
  const routed = new Set(routedServicesOf(env));
  const first = env.waves.findIndex((wave) => wave.some((s) => routed.has(s)));
  return env.waves.slice(0, first === -1 ? env.waves.length : first).flat();
}

/** compose: start `services` (and what they depend on) before the routed ones change. */
export function composeUpServicesCommand(
  ctx: Context,
  compose: readonly string[],
  services: string[],
): PlanCommand {
  return {
    argv: [...compose, "up", "-d", "--wait", "--pull", ctx.pull, ...services],
    description: `start ${services.join(", ")} first (nothing of theirs depends on a routed service), wait until healthy`,
  };
}

/**
 * compose blue/green, step 1: the new containers of `service` start beside
 * the old ones (compose scales up without recreating the old), and must be
 * healthy. `scale` is the old count plus the replicas.
 */
export function blueGreenStartCommand(
  ctx: Context,
  compose: readonly string[],
  service: string,
  scale?: number,
): PlanCommand {
  return {
    argv: [
      ...compose,
      "up",
      "-d",
      "--wait",
      "--no-deps",
      "--no-recreate",
      "--pull",
      ctx.pull,
      "--scale",
      `${service}=${scale ?? "<running + replicas>"}`,
      service,
    ],
    description: `blue/green, only if ${service} runs and its config changed: new containers beside the old ones, healthy before anything switches`,
  };
}

/** Step 2: the proxy sends the route's requests to the new containers, in one change. */
export function blueGreenSwitchCommand(
  ctx: Context,
  route: PlannedRoute,
  upstreams?: readonly string[],
): PlanCommand {
  return adminCommand(
    proxyOf(ctx.target),
    {
      method: "PATCH",
      path: upstreamsPath(route.id),
      body: dials(upstreams ?? [containersOf(route.service, "new ")], route.port).map((dial) => ({ dial })),
    },
    `switch ${route.url} to the new ${route.service} containers`,
  );
}

/** Step 3: wait until no request is in flight to the old containers. */
export function blueGreenDrainCommand(ctx: Context, service: string): PlanCommand {
  const proxy = proxyOf(ctx.target);
  return adminCommand(
    proxy,
    { method: "GET", path: "/reverse_proxy/upstreams" },
    `drain: poll until the old ${service} containers have no request in flight (at most ${Math.round(proxy.drainTimeoutMs / 1000)}s)`,
  );
}

/** Step 4: the old containers go (stop lets them finish, then rm). */
export function blueGreenRemoveCommands(
  docker: DockerArgv,
  service: string,
  containers?: string[],
): PlanCommand[] {
  const names = containers ?? [containersOf(service, "old ")];
  return [
    { argv: [...docker, "stop", ...names], description: `stop the old ${service} containers` },
    { argv: [...docker, "rm", ...names], description: `remove the old ${service} containers` },
  ];
}

/** The commands of a compose environment with routes, in order. */
export function routedComposeCommands(
  ctx: Context,
  env: RoutedEnvironment,
  parts: { docker: DockerArgv; compose: readonly string[]; network: PlanCommand; up: PlanCommand },
): PlanCommand[] {
  const { docker, compose } = parts;
  const first = servicesBeforeRouted(env);
  const routes = env.routes ?? [];
  return [
    parts.network,
    proxyContainerCreateCommand(ctx, docker),
    proxyConfigCopyCommand(ctx, docker),
    proxyStartCommand(ctx, docker),
    adminCheckCommand(ctx),
    proxyConnectCommand(ctx, docker),
    ...(first.length > 0 ? [composeUpServicesCommand(ctx, compose, first)] : []),
    ...routedServicesOf(env).flatMap((service) => [
      blueGreenStartCommand(ctx, compose, service),
      ...routes.filter((r) => r.service === service).map((r) => blueGreenSwitchCommand(ctx, r)),
      blueGreenDrainCommand(ctx, service),
      ...blueGreenRemoveCommands(docker, service),
    ]),
    parts.up,
    ...routeSyncCommands(ctx, env, (service) => [containersOf(service)]),
  ];
}

/** The commands of a swarm environment with routes: the stack's own, between the proxy and the routes. */
export function routedSwarmCommands(
  ctx: Context,
  env: RoutedEnvironment,
  parts: { docker: DockerArgv; network: PlanCommand; stack: PlanCommand[] },
): PlanCommand[] {
  return [
    parts.network,
    proxyConfigCreateCommand(ctx, parts.docker),
    proxyServiceCreateCommand(ctx, parts.docker),
    adminCheckCommand(ctx),
    proxyServiceNetworkCommand(ctx, parts.docker, "add"),
    ...parts.stack,
    ...routeSyncCommands(ctx, env, (service) => [swarmUpstream(ctx.project, env.environment, service)]),
  ];
}

/** What `down` adds for an environment with routes: routes out first, then the proxy's network and the proxy. */
export function routedDownCommands(
  ctx: Context,
  env: Pick<EnvironmentPlan, "environment">,
  docker: DockerArgv,
): { before: PlanCommand[]; after: PlanCommand[] } {
  const proxy = proxyOf(ctx.target);
  const swarm = ctx.target.backend === "swarm";
  return {
    before: [
      adminCommand(
        proxy,
        { method: "DELETE", path: `/id/${environmentRoutePrefix(ctx.project, env.environment)}<…>` },
        "remove this environment's routes and TLS policies from the proxy (every other route stays)",
      ),
    ],
    after: swarm
      ? [proxyServiceNetworkCommand(ctx, docker, "rm"), proxyServiceRemoveCommand(ctx, docker)]
      : [proxyDisconnectCommand(ctx, docker), proxyContainerRemoveCommand(ctx, docker)],
  };
}
