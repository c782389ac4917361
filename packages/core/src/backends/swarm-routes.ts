/**
 * Swarm with routes: the proxy is a swarm service on the project network;
 * routed services update start-first with their healthcheck as the gate
 * (rendered so by render/swarm.ts), and each route points at the service's
 * name, which resolves to its running tasks, so a redeploy changes nothing in
 * the proxy. Routes are set once the stack converged.
 */

import { swarmUpstream } from "../plan/proxy-commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import type { Backend, BackendContext } from "./backend.js";
import { attachProxy, checkRoutes, ensureProxy, syncRoutes, withRoutes } from "./proxy.js";
import { swarmBackend } from "./swarm.js";

async function applyRouted(ctx: BackendContext, env: EnvironmentPlan): Promise<void> {
  await ensureProxy(ctx, env.environment);
  await checkRoutes(ctx, env);
  await attachProxy(ctx, env.environment);
  await swarmBackend.apply(ctx, env);
  await syncRoutes(ctx, env, (service) => [swarmUpstream(ctx.project, env.environment, service)]);
}

export const swarmWithRoutes: Backend = withRoutes(swarmBackend, applyRouted);
