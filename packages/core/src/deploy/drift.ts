/**
 * Drift: what runs for an environment, compared with the deployment unit that
 * should be running. `status` reports it; `up` applies nothing when a
 * recorded unit is unchanged and nothing drifted.
 */
import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import type { DeploymentUnit } from "../plan/unit.js";
import type { ServiceView } from "../render/view.js";

export interface Drift {
  service: string;
  kind: "missing" | "stopped" | "image" | "replicas" | "env" | "ports" | "orphan" | "failed";
  detail: string;
}

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
  if (instances.length === 0) return [{ service: name, kind: "missing", detail: "no container or task" }];
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
    const up = instances.filter((i) => i.state === "running");
    if (up.length === 0)
      drift.push({ service: name, kind: "stopped", detail: `${instances[0]!.state}, not running` });
    else if (up.length < expected.replicas)
      drift.push({ service: name, kind: "replicas", detail: `${up.length}/${expected.replicas} running` });
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
        const actual = instance.env[key];
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
  const env = unit.environment;
  const expected = env.views;
  const live = new Map((await backend.running(ctx, env)).map((r) => [r.service, r]));
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
    if (!expected[name] && running.instances.length > 0)
      drift.push({ service: name, kind: "orphan", detail: "runs, but no deploy of this environment has it" });
  }
  return drift;
}
