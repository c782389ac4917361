/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { type Drift, driftOf } from "../deploy/drift.js";
import { locateState } from "../deploy/state-location.js";
import { environmentUrls, type ServiceUrl } from "../deploy/urls.js";
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
  /** Where the deployed environment answers (routes, published ports); empty when not deployed. */
  urls: ServiceUrl[];
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
        results[index] = {
          environment: name,
          target: state.target,
          state: "not deployed",
          drift: [],
          urls: [],
        };
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
      const drift = await driftOf(backendFor(unit.backend, options.backendImpl), ctx, unit);
      results[index] = {
        environment: name,
        target: state.target,
        deploymentId: record.id,
        state: drift.length > 0 ? "drifted" : "ok",
        drift,
        urls: environmentUrls(unit),
      };
    }),
  );
  return results;
}
