/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { type Drift, driftOf } from "../deploy/drift.js";
import { placementsOf } from "../deploy/hosts.js";
import { locateState } from "../deploy/state-location.js";
import { Ledger } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";

export type { Drift } from "../deploy/drift.js";

export interface EnvironmentStatus {
  environment: string;
  target: string;
  /** Which of the target's hosts, for a target with hosts (one status each). */
  host?: string;
  /** The record compared with, if any. */
  deploymentId?: string;
  state: "ok" | "drifted" | "not deployed";
  drift: Drift[];
}

export async function status(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
  /** Only these of the target's hosts (`--hosts`). */
  hosts?: readonly string[] | undefined;
  timeoutMs?: number | undefined;
  /** Ask this Backend instead of the built-in one (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
}): Promise<EnvironmentStatus[]> {
  const state = await locateState(options);
  let names: string[];
  if (options.environment) names = [options.environment];
  else if (state.project) names = await state.project.allEnvironmentNames();
  else names = [];
  const hosts = placementsOf(
    { name: state.target, backend: "compose", namespace: "", ...(state.hosts ? { hosts: state.hosts } : {}) },
    options.hosts,
  ).map((p) => p.host);
  const checks = names.flatMap((environment) => hosts.map((host) => ({ environment, host })));
  return Promise.all(
    checks.map(async ({ environment: name, host }): Promise<EnvironmentStatus> => {
      const at = { environment: name, target: state.target, ...(host ? { host } : {}) };
      const ledger = new Ledger(state.cacheDir, name, state.target, { root: state.root, host });
      const read = ledger.read();
      ledger.verify(read);
      const record = currentRecord(read.records);
      if (!record) return { ...at, state: "not deployed", drift: [] };
      const unit = ledger.readUnit(record);
      const ctx: BackendContext = {
        project: unit.project,
        target: unit.target,
        pull: unit.pull,
        root: state.root,
        events: silent,
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      };
      const drift = await driftOf(backendFor(unit.backend, options.backendImpl), ctx, unit);
      return { ...at, deploymentId: record.id, state: drift.length > 0 ? "drifted" : "ok", drift };
    }),
  );
}
