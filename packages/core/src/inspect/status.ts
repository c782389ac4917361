/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { compareRunning, type Drift } from "../deploy/drift.js";
import { locateState } from "../deploy/state-location.js";
import { Ledger } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";

export type { Drift } from "../deploy/drift.js";

export interface EnvironmentStatus {
  environment: string;
  target: string;
  /** The record compared with, if any. */
  deploymentId?: string;
  state: "ok" | "drifted" | "not deployed";
  drift: Drift[];
  /**
   * Each pod of a deployed environment, where the backend names its instances
   * (Kubernetes): its state, readiness, restarts and the image the node runs.
   */
  instances?: LiveInstance[];
}

export interface LiveInstance {
  service: string;
  name: string;
  state: string;
  ready?: boolean;
  restarts?: number;
  /** Why its container is not running (CrashLoopBackOff, …). */
  waiting?: string;
  /** The image the node runs (`repo@sha256:…`), else the reference it was started with. */
  image: string;
}

function liveInstances(running: readonly RunningService[]): LiveInstance[] {
  return running.flatMap((r) =>
    r.instances
      .filter((i) => i.name !== undefined)
      .map((i) => ({
        service: r.service,
        name: i.name!,
        state: i.state,
        ...(i.ready !== undefined ? { ready: i.ready } : {}),
        ...(i.restarts !== undefined ? { restarts: i.restarts } : {}),
        ...(i.waiting !== undefined ? { waiting: i.waiting } : {}),
        image: i.running ?? i.ref,
      })),
  );
}

export async function status(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
  timeoutMs?: number | undefined;
  /** Ask this Backend instead of the built-in one (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
}): Promise<EnvironmentStatus[]> {
  const state = await locateState(options);
  let names: string[];
  if (options.environment) names = [options.environment];
  else if (state.project) names = await state.project.allEnvironmentNames();
  else names = [];
  const results: EnvironmentStatus[] = [];
  await Promise.all(
    names.map(async (name, index) => {
      const ledger = new Ledger(state.cacheDir, name, state.target, { root: state.root });
      const read = ledger.read();
      ledger.verify(read);
      const record = currentRecord(read.records);
      if (!record) {
        results[index] = { environment: name, target: state.target, state: "not deployed", drift: [] };
        return;
      }
      const unit = ledger.readUnit(record);
      const ctx: BackendContext = {
        project: unit.project,
        target: unit.target,
        pull: unit.pull,
        root: state.root,
        events: silent,
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      };
      const { drift, running } = await compareRunning(
        backendFor(unit.backend, options.backendImpl),
        ctx,
        unit,
      );
      const instances = liveInstances(running);
      results[index] = {
        environment: name,
        target: state.target,
        deploymentId: record.id,
        state: drift.length > 0 ? "drifted" : "ok",
        drift,
        ...(instances.length > 0 ? { instances } : {}),
      };
    }),
  );
  return results;
}
