/**
 * Compose with routes: an environment whose services have routes deploys
 * blue/green. What no routed service depends on starts first; then each
 * routed service whose config changed starts its new containers beside the
 * old ones (compose scales up without recreating), they must become healthy,
 * the proxy switches the service's routes to them in one admin-API change,
 * the old containers drain and go. A new version that never becomes healthy
 * is removed again: the old one keeps serving and the deploy fails naming the
 * service. Then the whole project converges as usual, and the routes are
 * set. Environments without routes deploy exactly as before.
 */
import { KaupangError } from "../base/errors.js";
import { exec, execOk, outputLines, tail } from "../exec/exec.js";
import { composeArgs, composeUpCommand, dockerGlobalArgs } from "../plan/commands.js";
import {
  blueGreenDrainCommand,
  blueGreenRemoveCommands,
  blueGreenStartCommand,
  blueGreenSwitchCommand,
  composeUpServicesCommand,
  routedServicesOf,
  servicesBeforeRouted,
} from "../plan/proxy-commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { composeProjectName } from "../render/names.js";
import { dials, proxyOf, upstreamsPath } from "../render/routes.js";
import type { Backend, BackendContext } from "./backend.js";
import { adminOk, sendAdmin } from "./caddy-admin.js";
import { composeBackend, diagnose } from "./compose.js";
import { attachProxy, checkRoutes, ensureProxy, syncRoutes, withRoutes } from "./proxy.js";

interface ServiceContainer {
  name: string;
  state: string;
  configHash: string;
}

const docker = (ctx: BackendContext): string[] => ["docker", ...dockerGlobalArgs(ctx.target)];

/** The containers compose made for one service of the environment (one-off `run` containers excluded). */
async function containersOf(
  ctx: BackendContext,
  environment: string,
  service: string,
): Promise<ServiceContainer[]> {
  const result = await exec(
    [
      ...docker(ctx),
      "ps",
      "-a",
      "--filter",
      `label=com.docker.compose.project=${composeProjectName(ctx.project, environment)}`,
      "--filter",
      `label=com.docker.compose.service=${service}`,
      "--filter",
      "label=com.docker.compose.oneoff=False",
      "--format",
      '{{.Names}}\t{{.State}}\t{{.Label "com.docker.compose.config-hash"}}',
    ],
    { quiet: true },
  );
  if (result.exitCode !== 0)
    throw new KaupangError(
      "ERR_COMMAND_FAILED",
      `${environment}: listing ${service}'s containers failed: ${tail(result.stderr)}`,
    );
  return outputLines(result.stdout).map((line) => {
    const [name = "", state = "", configHash = ""] = line.split("\t");
    return { name, state, configHash };
  });
}

/** The config hash compose gives each routed service now (what its containers' label says when unchanged). */
async function configHashes(ctx: BackendContext, env: EnvironmentPlan): Promise<Map<string, string>> {
  const result = await execOk(
    [...composeArgs(ctx, env), "config", "--hash", "*"],
    `${env.environment}: compose config`,
    {
      cwd: ctx.root,
      quiet: true,
    },
  );
  return new Map(
    outputLines(result.stdout).map((line) => {
      const [service = "", hash = ""] = line.split(/\s+/);
      return [service, hash];
    }),
  );
}

/** Run a compose step; a failure names the service compose reports. */
async function composeStep(
  ctx: BackendContext,
  env: EnvironmentPlan,
  argv: readonly string[],
): Promise<void> {
  const result = await exec(argv, {
    cwd: ctx.root,
    events: ctx.events,
    scope: env.environment,
    timeoutMs: ctx.timeoutMs,
  });
  if (result.exitCode !== 0)
    throw await diagnose(
      ctx,
      env,
      result.timedOut ? "timed out" : tail(result.stderr) || `exit code ${result.exitCode}`,
    );
}

/** Poll until no request is in flight to `old` (dial addresses), at most the proxy's drain timeout. */
async function drain(ctx: BackendContext, scope: string, old: readonly string[]): Promise<void> {
  const proxy = proxyOf(ctx.target);
  const deadline = Date.now() + proxy.drainTimeoutMs;
  for (;;) {
    const reply = await sendAdmin(proxy.adminAddress, {
      method: "GET",
      path: "/reverse_proxy/upstreams",
    }).catch(() => undefined);
    const upstreams = Array.isArray(reply?.body)
      ? (reply.body as { address: string; num_requests: number }[])
      : [];
    const busy = upstreams.filter((u) => old.includes(u.address) && u.num_requests > 0);
    if (busy.length === 0) return;
    if (Date.now() > deadline) {
      ctx.events({
        type: "warning",
        scope,
        message: `${busy.map((u) => `${u.address} (${u.num_requests} requests)`).join(", ")} still busy after ${proxy.drainTimeoutMs / 1000}s: stopping anyway`,
      });
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Blue/green for one routed service that runs now. */
async function replace(
  ctx: BackendContext,
  env: EnvironmentPlan,
  service: string,
  old: ServiceContainer[],
): Promise<void> {
  const scope = env.environment;
  const compose = composeArgs(ctx, env);
  const replicas = env.replicas[service] ?? 1;
  ctx.events({
    type: "stage",
    scope,
    message: `blue/green: ${replicas} new ${service} beside ${old.length} old`,
  });
  const start = blueGreenStartCommand(ctx, compose, service, old.length + replicas);
  const result = await exec(start.argv, {
    cwd: ctx.root,
    events: ctx.events,
    scope,
    timeoutMs: ctx.timeoutMs,
  });
  const oldNames = new Set(old.map((c) => c.name));
  const fresh = (await containersOf(ctx, env.environment, service)).filter((c) => !oldNames.has(c.name));
  if (result.exitCode !== 0) {
    // The new version never became healthy: it goes, and the proxy still sends to the old one.
    if (fresh.length > 0)
      await exec([...docker(ctx), "rm", "-f", ...fresh.map((c) => c.name)], { events: ctx.events, scope });
    const why = result.timedOut
      ? `not healthy within ${Math.round(ctx.timeoutMs / 1000)}s`
      : tail(result.stderr) || `exit code ${result.exitCode}`;
    throw new KaupangError(
      "ERR_DEPLOY_FAILED",
      `${scope}: service ${service}: its new version did not become healthy (${why}); the old version keeps serving`,
      { hint: `see \`docker logs\` of a new ${service} container, or its healthcheck` },
    );
  }
  const proxy = proxyOf(ctx.target);
  for (const route of (env.routes ?? []).filter((r) => r.service === service)) {
    const request = blueGreenSwitchCommand(
      ctx,
      route,
      fresh.map((c) => c.name),
    );
    await adminOk(
      proxy,
      {
        method: "PATCH",
        path: upstreamsPath(route.id),
        body: dials(
          fresh.map((c) => c.name),
          route.port,
        ).map((dial) => ({ dial })),
      },
      { events: ctx.events, scope, description: request.description },
    );
  }
  const ports = [...new Set((env.routes ?? []).filter((r) => r.service === service).map((r) => r.port))];
  const oldDials = old.flatMap((c) => ports.map((port) => `${c.name}:${port}`));
  ctx.events({ type: "stage", scope, message: blueGreenDrainCommand(ctx, service).description });
  await drain(ctx, scope, oldDials);
  for (const command of blueGreenRemoveCommands(docker(ctx), service, [...oldNames]))
    await execOk(command.argv, `${scope}: ${command.description}`, { events: ctx.events, scope });
}

async function applyRouted(ctx: BackendContext, env: EnvironmentPlan): Promise<void> {
  const scope = env.environment;
  await ensureProxy(ctx, scope);
  await checkRoutes(ctx, env);
  await attachProxy(ctx, scope);
  const first = servicesBeforeRouted(env);
  if (first.length > 0)
    await composeStep(ctx, env, composeUpServicesCommand(ctx, composeArgs(ctx, env), first).argv);
  const routed = routedServicesOf(env);
  const running = new Map(
    await Promise.all(routed.map(async (s) => [s, await containersOf(ctx, scope, s)] as const)),
  );
  const changing = routed.filter((s) => (running.get(s) ?? []).length > 0);
  if (changing.length > 0) {
    const hashes = await configHashes(ctx, env);
    for (const service of changing) {
      const old = running.get(service)!;
      const unchanged = old.every((c) => c.state === "running" && c.configHash === hashes.get(service));
      if (!unchanged) await replace(ctx, env, service, old);
    }
  }
  await composeStep(ctx, env, composeUpCommand(ctx, env).argv);
  const upstreams = new Map(
    await Promise.all(
      routed.map(
        async (s) =>
          [
            s,
            (await containersOf(ctx, scope, s)).filter((c) => c.state === "running").map((c) => c.name),
          ] as const,
      ),
    ),
  );
  await syncRoutes(ctx, env, (service) => upstreams.get(service) ?? []);
}

/** The compose backend, with routes. */
export const composeWithRoutes: Backend = withRoutes(composeBackend, applyRouted);
