/**
 * `kaupang status`: what runs now, compared with the last succeeded deploy in
 * the ledger — read-only, on demand, no agent. Also the "quick live check"
 * behind the no-change deploy.
 */
import type { Backend, BackendContext, RunningService } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { silent } from "../base/events.js";
import { compareRunning, type Drift } from "../deploy/drift.js";
import { placementsOf } from "../deploy/hosts.js";
import { currentFingerprints, secretChanges } from "../deploy/secret-fingerprints.js";
import { locateState } from "../deploy/state-location.js";
import { environmentUrls, type ServiceUrl } from "../deploy/urls.js";
import { ledgerAt } from "../ledger/ledger.js";
import { holderGone, readLock } from "../ledger/lock.js";
import { currentRecord, deployments, type LedgerRecord } from "../ledger/record.js";
import { unitTarget } from "../plan/unit.js";

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
  /** Where the deployed environment answers (routes, published ports); empty when not deployed. */
  urls: ServiceUrl[];
  /** Secrets whose value changed since that deploy ("secret API_KEY changed"; `up` applies them); never a value. */
  secrets: string[];
  /** The last deploy, when it did not succeed: failed, interrupted, or still running. */
  last?: {
    id: string;
    action: LedgerRecord["action"];
    status: "failed" | "interrupted" | "running";
    error?: string;
  };
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
      const ledger = ledgerAt(state, { environment: name, target: state.target, ...(host ? { host } : {}) });
      const read = await ledger.read();
      await ledger.verify(read);
      const last = await lastAttempt(ledger.store, read.records);
      const record = currentRecord(read.records);
      if (!record)
        return { ...at, state: "not deployed", drift: [], urls: [], secrets: [], ...(last ? { last } : {}) };
      const unit = await ledger.readUnit(record);
      const ctx: BackendContext = {
        project: unit.project,
        target: unitTarget(unit, state.root),
        pull: unit.pull,
        root: state.root,
        events: silent,
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      };
      const backend = backendFor(unit.backend, options.backendImpl);
      const { drift, running } = await compareRunning(backend, ctx, unit);
      const instances = liveInstances(running);
      // Only secrets whose value can be read now (kaupang's env, or the cluster Secret) are compared.
      const now = await currentFingerprints(backend, ctx, unit.environment.secrets);
      const known = now && { key: now.key, values: now.values };
      // A record without fingerprints (older kaupang) or with another key cannot say: not reported as drift.
      const comparable = known && record.secrets?.key === known.key;
      const secrets = comparable ? secretChanges(record.secrets, known) : [];
      return {
        ...at,
        deploymentId: record.id,
        state: drift.length > 0 || secrets.length > 0 ? "drifted" : "ok",
        drift,
        urls: environmentUrls(unit),
        secrets,
        ...(last ? { last } : {}),
        ...(instances.length > 0 ? { instances } : {}),
      };
    }),
  );
}

/** The last deploy that did something, when it did not succeed (running: it holds the lock now). */
async function lastAttempt(
  store: Parameters<typeof readLock>[0],
  records: readonly LedgerRecord[],
): Promise<EnvironmentStatus["last"]> {
  const lock = await readLock(store);
  const live = lock.kind === "held" && !holderGone(lock.holder);
  const open = records.at(-1)?.status === "started" && live ? records.at(-1)!.id : undefined;
  const last = deployments(records, open)
    .filter((r) => r.status !== "unchanged")
    .at(-1);
  if (!last || last.status === "succeeded") return undefined;
  const status = last.status === "started" ? "running" : last.status === "failed" ? "failed" : "interrupted";
  return { id: last.id, action: last.action, status, ...(last.error ? { error: last.error } : {}) };
}
