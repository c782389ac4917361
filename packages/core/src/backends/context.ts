import { type EventSink, silent } from "../base/events.js";
import type { BackendName } from "../config/model.js";
import type { Plan } from "../plan/types.js";
import type { Backend, BackendContext } from "./backend.js";
import { composeWithRoutes } from "./blue-green.js";
import { kubernetesBackend } from "./kubernetes.js";
import { swarmWithRoutes } from "./swarm-routes.js";

const backends: Record<BackendName, Backend> = {
  compose: composeWithRoutes,
  swarm: swarmWithRoutes,
  kubernetes: kubernetesBackend,
};

/** The built-in Backend for `name`, unless the caller gives its own (an in-memory fake in tests). */
export function backendFor(name: BackendName, given?: Backend): Backend {
  return given ?? backends[name];
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
