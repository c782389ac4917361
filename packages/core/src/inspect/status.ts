/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { loadProject } from "../config/project.js";
import { openSite } from "../deploy/state-location.js";
import { Ledger } from "../ledger/ledger.js";
import type { DeploymentUnit, LedgerRecord } from "../ledger/record.js";
import { type ServiceView, viewArtifact } from "../render/view.js";

export interface Drift {
  service: string;
  kind: "missing" | "stopped" | "image" | "replicas" | "env" | "ports" | "orphan" | "failed";
  detail: string;
}

export interface EnvironmentStatus {
  environment: string;
  target: string;
  /** The record compared with, if any. */
  deploymentId?: string;
  state: "ok" | "drifted" | "not deployed";
  drift: Drift[];
}

/** The record that describes what should run: the last succeeded (or unchanged) deploy, unless a down came after it. */
export function currentRecord(records: readonly LedgerRecord[]): LedgerRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.action === "down" && r.status === "succeeded") return undefined;
    if (r.action !== "down" && r.status !== "failed" && r.unit) return r;
  }
  return undefined;
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
  const expected = viewArtifact(unit.backend, env.artifact.content);
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

export async function status(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
  timeoutMs?: number | undefined;
}): Promise<EnvironmentStatus[]> {
  const site = await openSite(options);
  let names: string[];
  if (options.environment) names = [options.environment];
  else if (site.hasConfig) names = (await loadProject(site.root)).environmentNames();
  else names = [];
  const results: EnvironmentStatus[] = [];
  await Promise.all(
    names.map(async (name, index) => {
      const ledger = new Ledger(site.cacheDir, name, site.target, { root: site.root });
      const read = ledger.read();
      ledger.verify(read);
      const record = currentRecord(read.records);
      if (!record) {
        results[index] = { environment: name, target: site.target, state: "not deployed", drift: [] };
        return;
      }
      const unit = ledger.readUnit(record);
      const ctx: BackendContext = {
        project: unit.project,
        target: unit.target,
        pull: unit.pull,
        root: site.root,
        events: silent,
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      };
      const drift = await driftOf(backendFor(unit.backend), ctx, unit);
      results[index] = {
        environment: name,
        target: site.target,
        deploymentId: record.id,
        state: drift.length > 0 ? "drifted" : "ok",
        drift,
      };
    }),
  );
  return results;
}
