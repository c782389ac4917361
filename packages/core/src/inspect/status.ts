/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { loadProject } from "../config/project.js";
import { type Drift, driftOf } from "../deploy/drift.js";
import { openSite } from "../deploy/state-location.js";
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
        results[index] = {
          environment: name,
          target: site.target,
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
        urls: environmentUrls(unit),
      };
    }),
  );
  return results;
}
