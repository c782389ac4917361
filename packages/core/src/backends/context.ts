import { KaupangError } from "../base/errors.js";
import { type EventSink, silent } from "../base/events.js";
import type { BackendName } from "../config/model.js";
import type { Plan } from "../plan/types.js";
import type { Backend, BackendContext } from "./backend.js";
import { composeWithRoutes } from "./blue-green.js";
import { kubernetesBackend } from "./kubernetes.js";
import { swarmWithRoutes } from "./swarm-routes.js";

const backends: Partial<Record<BackendName, Backend>> = {
  compose: composeWithRoutes,
  swarm: swarmWithRoutes,
  kubernetes: kubernetesBackend,
};

export function backendFor(name: BackendName): Backend {
  const backend = backends[name];
  if (!backend)
    throw new KaupangError("ERR_BACKEND_UNAVAILABLE", `the ${name} backend cannot deploy in this build`);
  return backend;
}

/** Register a backend implementation (the Kubernetes one lives in its own module). */
export function registerBackend(name: BackendName, backend: Backend): void {
  backends[name] = backend;
}

export const defaultTimeoutMs = 5 * 60_000;

export function backendContext(
  plan: Plan,
  options: { events?: EventSink | undefined; timeoutMs?: number | undefined },
): BackendContext {
  return {
    project: plan.project,
    target: plan.targetSettings,
    pull: plan.pull,
    root: plan.root,
    events: options.events ?? silent,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
  };
}
