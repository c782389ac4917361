/**
 * Swarm with routes: the proxy is a swarm service on the project network;
 * routed services update start-first with their healthcheck as the gate
 * (rendered so by render/swarm.ts), and each route points at the service's
 * name, which resolves to its running tasks, so a redeploy changes nothing in
 * the proxy. Routes are set once the stack converged.
 */

import { swarmUpstream } from "../plan/proxy-commands.js";
import type { Backend } from "./backend.js";
import { removeProjectNetworkIfUnused } from "./network.js";
import {
  attachProxy,
  checkRoutes,
  ensureProxy,
  preflightRoutes,
  releaseProxy,
  removeRoutes,
  syncRoutes,
} from "./proxy.js";
import { swarmBackend } from "./swarm.js";

export const swarmWithRoutes: Backend = {
  async apply(ctx, env) {
    if ((env.routes?.length ?? 0) === 0) {
      await swarmBackend.apply(ctx, env);
      const found = await removeRoutes(ctx, env);
      if (found && found.removal.requests.length > 0) await releaseProxy(ctx, env.environment, found);
      return;
    }
    await ensureProxy(ctx, env.environment);
    await checkRoutes(ctx, env);
    await attachProxy(ctx, env.environment);
    await swarmBackend.apply(ctx, env);
    await syncRoutes(ctx, env, (service) => [swarmUpstream(ctx.project, env.environment, service)]);
  },

  async remove(ctx, env) {
    const found = await removeRoutes(ctx, env);
    await swarmBackend.remove(ctx, env);
    if (found) {
      await releaseProxy(ctx, env.environment, found);
      await removeProjectNetworkIfUnused(ctx, env.environment);
    }
  },

  running: (ctx, env) => swarmBackend.running(ctx, env),
  prepare: (ctx) => swarmBackend.prepare?.(ctx),
  preflight: preflightRoutes,
};
