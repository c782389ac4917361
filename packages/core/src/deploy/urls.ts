/**
 * Where a deployed environment answers: each route's URL, and for a service
 * with published ports but no route, http://<engine host>:<port>. `up`
 * reports them on success and `status` shows them, from the deployment unit.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TargetSettings } from "../base/target.js";
import { dockerConfigDir } from "../exec/docker-config.js";
import type { DeploymentUnit } from "../plan/unit.js";

export interface ServiceUrl {
  service: string;
  url: string;
}

/** The host part of a docker endpoint (tcp://h:2376, ssh://user@h); undefined for a local socket. */
function endpointHost(endpoint: string | undefined): string | undefined {
  if (!endpoint || endpoint.startsWith("unix://") || endpoint.startsWith("npipe://")) return undefined;
  try {
    return new URL(endpoint).hostname || undefined;
  } catch {
    return undefined;
  }
}

/** The docker host of a context, as `docker context inspect` would name it. */
function contextHost(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (name === "default") return endpointHost(env.DOCKER_HOST);
  const id = createHash("sha256").update(name).digest("hex");
  try {
    const meta = JSON.parse(
      readFileSync(join(dockerConfigDir(env), "contexts", "meta", id, "meta.json"), "utf8"),
    );
    return endpointHost(meta?.Endpoints?.docker?.Host);
  } catch {
    return undefined;
  }
}

/**
 * Which host published ports are reached on: the target's docker engine (its `dockerHost`,
 * else its context, else DOCKER_CONTEXT or DOCKER_HOST), `localhost` for the local one.
 */
export function engineHost(target: TargetSettings, env: NodeJS.ProcessEnv = process.env): string {
  if (target.dockerHost) return endpointHost(target.dockerHost) ?? "localhost";
  const context = target.dockerContext ?? env.DOCKER_CONTEXT;
  const host = context ? contextHost(context, env) : endpointHost(env.DOCKER_HOST);
  return host ?? "localhost";
}

/** The URLs of one deployed environment: routes first, then published ports of services without a route. */
export function environmentUrls(unit: DeploymentUnit, host = engineHost(unit.target)): ServiceUrl[] {
  const env = unit.environment;
  const routes = env.routes ?? [];
  const urls: ServiceUrl[] = routes.map((r) => ({ service: r.service, url: r.url }));
  if (unit.backend === "kubernetes") return urls;
  const routed = new Set(routes.map((r) => r.service));
  for (const [service, view] of Object.entries(env.views ?? {})) {
    if (routed.has(service) || env.runOnce.includes(service)) continue;
    for (const port of view.ports) {
      const published = /^(\d+):\d+\/tcp$/.exec(port)?.[1];
      if (published) urls.push({ service, url: `http://${host}:${published}/` });
    }
  }
  return urls;
}
