/**
 * Drift: what runs for an environment, compared with the deployment unit that
 * should be running. `status` reports it; `up` applies nothing when a
 * recorded unit is unchanged and nothing drifted.
 */

import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import { own } from "../base/merge.js";
import type { DeploymentUnit } from "../plan/unit.js";
import type { ServiceView } from "../render/view.js";

export interface Drift {
  service: string;
  kind:
    | "missing"
    | "stopped"
    | "image"
    | "replicas"
    | "env"
    | "ports"
    | "orphan"
    | "failed"
    | "node"
    | "crashing"
    | "unready";
  detail: string;
}

type Instance = RunningService["instances"][number];

/** A container that keeps failing: it waits to restart (CrashLoopBackOff) or waits after restarts. */
const crashing = (i: Instance) =>
  i.waiting === "CrashLoopBackOff" || (i.waiting !== undefined && (i.restarts ?? 0) > 0);
/** Runs and serves: running, not waiting to restart, and not reported unready. */
const serving = (i: Instance) => i.state === "running" && i.waiting === undefined && i.ready !== false;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const named = (list: readonly Instance[]) => list.map((i) => i.name ?? "an instance").join(", ");

function compareService(
  name: string,
  expected: ServiceView,
  digest: string | undefined,
  local: boolean,
  runOnce: boolean,
  live: RunningService | undefined,
): Drift[] {
  const instances = live?.instances ?? [];
  if (expected.replicas === 0)
    return instances.length > 0
      ? [{ service: name, kind: "replicas", detail: `${instances.length} running, 0 wanted` }]
      : [];
  // What the backend knows of why replicas are missing: a failed task (named with its node), a node
  // taken out of service (a drift of its own: only the swarm, not kaupang, puts its tasks back).
  const gaps = live?.gaps ?? [];
  const failure = gaps.find((g) => !g.cause.startsWith("node "));
  const why = failure
    ? `; a task${failure.node ? ` on ${failure.node}` : ""} ${failure.cause}${failure.detail ? ` (${failure.detail})` : ""}`
    : "";
  const nodes = [
    ...new Set(
      gaps.filter((g) => g.cause.startsWith("node ")).map((g) => `${g.node} is ${g.cause.slice(5)}`),
    ),
  ].map((node): Drift => ({ service: name, kind: "node", detail: `node ${node}` }));
  if (instances.length === 0)
    return [{ service: name, kind: "missing", detail: `no container or task${why}` }, ...nodes];
  const drift: Drift[] = [];
  const done = (state: string) => state === "exited" || state === "complete" || state === "failed";
  if (runOnce) {
    const failed = instances.find((i) => done(i.state) && i.exitCode !== 0);
    if (failed)
      drift.push({
        service: name,
        kind: "failed",
        detail: `one-shot task exited with code ${failed.exitCode}`,
      });
  } else {
    const looping = instances.filter(crashing);
    for (const i of looping)
      drift.push({
        service: name,
        kind: "crashing",
        detail: `${i.name ?? "an instance"} is crash-looping (${i.waiting}, ${plural(i.restarts ?? 0, "restart")})`,
      });
    const unready = instances.filter((i) => i.state === "running" && !crashing(i) && i.ready === false);
    if (unready.length > 0)
      drift.push({ service: name, kind: "unready", detail: `${named(unready)} running but not ready` });
    const up = instances.filter(serving);
    const state = (i: Instance) => `${i.state}${i.waiting ? ` (${i.waiting})` : ""}`;
    if (up.length === 0 && looping.length + unready.length === 0)
      drift.push({ service: name, kind: "stopped", detail: `${state(instances[0]!)}, not running${why}` });
    else if (up.length < expected.replicas)
      drift.push({
        service: name,
        kind: "replicas",
        detail: `${up.length}/${expected.replicas} running${why}`,
      });
    drift.push(...nodes);
  }
  if (digest) {
    const wrong = instances.find((i) => (local ? i.imageId !== digest : !i.digests.includes(digest)));
    if (wrong) {
      drift.push({
        service: name,
        kind: "image",
        detail: `runs ${local ? wrong.imageId : wrong.digests.join(", ") || wrong.ref}, deployed ${digest}`,
      });
    }
  }
  for (const instance of instances.slice(0, 1)) {
    if (instance.env) {
      for (const [key, entry] of Object.entries(expected.env)) {
        const actual = own(instance.env, key);
        if (actual === undefined) drift.push({ service: name, kind: "env", detail: `${key} is not set` });
        else if ("value" in entry && actual !== entry.value)
          drift.push({ service: name, kind: "env", detail: `${key} differs from the deployed value` });
      }
    }
    if (instance.ports) {
      const want = expected.ports.filter((p) => p.includes(":")).join(", ");
      const have = instance.ports.join(", ");
      if (want !== have)
        drift.push({ service: name, kind: "ports", detail: `publishes [${have}], deployed [${want}]` });
    }
  }
  return drift;
}

/** Compare what runs for one recorded deployment unit with the unit. */
export async function driftOf(backend: Backend, ctx: BackendContext, unit: DeploymentUnit): Promise<Drift[]> {
  return (await compareRunning(backend, ctx, unit)).drift;
}

/** What runs for one recorded deployment unit, and how it differs from the unit. */
export async function compareRunning(
  backend: Backend,
  ctx: BackendContext,
  unit: DeploymentUnit,
): Promise<{ drift: Drift[]; running: RunningService[] }> {
  const env = unit.environment;
  const expected = env.views;
  const running = await backend.running(ctx, env);
  const live = new Map(running.map((r) => [r.service, r]));
  const drift: Drift[] = [];
  for (const [name, view] of Object.entries(expected)) {
    const image = env.images.find((i) => i.service === name);
    drift.push(
      ...compareService(
        name,
        view,
        image?.pinned ? image.digest : undefined,
        image?.local === true,
        env.runOnce.includes(name),
        live.get(name),
      ),
    );
  }
  for (const [name, running] of live) {
    if (!own(expected, name) && running.instances.length > 0)
      drift.push({ service: name, kind: "orphan", detail: "runs, but no deploy of this environment has it" });
  }
  return { drift, running };
}
