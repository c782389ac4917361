/**
 * `kaupang rollback`: replay a recorded deployment through the same apply path
 * as `up`, with no re-resolution. Default target: the succeeded deployment
 * before the current one — or, when the latest record failed, the last
 * succeeded one (what is running, or should be). Failed deploys are never a
 * target. Every rollback is itself recorded, so it can be rolled back.
 */

import type { BackendContext } from "../backends/backend.js";
import { backendFor, defaultTimeoutMs } from "../backends/context.js";
import { KaupangError } from "../base/errors.js";
import { silent } from "../base/events.js";
import { type Ledger, ledgerAt } from "../ledger/ledger.js";
import { holderGone, readLock } from "../ledger/lock.js";
import { deployments as history, type LedgerRecord } from "../ledger/record.js";
import type { RemoteState } from "../ledger/state-store.js";
import { type DeploymentUnit, unitTarget } from "../plan/unit.js";
import { applyUnit, type DeploymentSummary } from "./apply-unit.js";
import { eachHost, hostEvents, placementsOf } from "./hosts.js";
import { newDeploymentId } from "./ids.js";
import { lockEnvironments } from "./locks.js";
import { type RollbackBounds, siteBounds, tamperedBundleUnit } from "./rollback-bounds.js";
import { currentFingerprints } from "./secret-fingerprints.js";
import { checkSecrets } from "./secrets.js";
import { locateState } from "./state-location.js";
import type { ApplyOptions } from "./up.js";

export interface RollbackOptions extends ApplyOptions {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  /** A deployment id to return to. */
  to?: string | undefined;
  /** One of the target's hosts: its own ledger. */
  host?: string | undefined;
  /** The id to record (one rollback run on several hosts shares one). */
  deploymentId?: string | undefined;
}

/**
 * Deploys that changed something, one entry per deploy (an "unchanged"
 * record repeats the one before it; a started record and its outcome are one
 * deploy).
 */
const deployments = (records: readonly LedgerRecord[]) =>
  history(records).filter((r) => r.action !== "down" && r.status !== "unchanged");

/** The record a rollback returns to: always a succeeded one (never failed, interrupted or unfinished), within the site's bounds. */
export function chooseRollbackTarget(
  records: readonly LedgerRecord[],
  to?: string,
  bounds?: RollbackBounds,
): LedgerRecord {
  const merged = deployments(records);
  if (to !== undefined) {
    const found = history(records).find((r) => r.id === to);
    if (!found)
      throw new KaupangError("ERR_ROLLBACK_UNKNOWN", `no deployment ${to} in this ledger`, {
        hint: "list them with kaupang rollback <env> --list",
      });
    if (found.status !== "succeeded" || !found.unit) {
      throw new KaupangError(
        "ERR_ROLLBACK_FAILED_TARGET",
        `deployment ${to} ${found.action === "down" ? "was a down" : found.status === "interrupted" ? "was interrupted" : found.status === "unchanged" ? "changed nothing" : "failed"}; only a succeeded deployment can be rolled back to`,
      );
    }
    if (bounds && !bounds.allows(found))
      throw new KaupangError("ERR_ROLLBACK_BOUNDS", `deployment ${to} ${bounds.refusal}; refused`, {
        hint: "list them with kaupang rollback <env> --list (the BUNDLE column)",
      });
    return found;
  }
  const latest = merged[merged.length - 1];
  if (!latest)
    throw new KaupangError("ERR_NOTHING_TO_ROLL_BACK", "nothing to roll back: no deployment is recorded");
  // The current deploy is not a target: the one before it is (or, after a failure, the last good one).
  const before = latest.status === "succeeded" ? merged.slice(0, -1) : merged;
  const candidates = before.filter((r) => r.status === "succeeded" && r.unit);
  const target = candidates.filter((r) => !bounds || bounds.allows(r)).pop();
  if (!target) {
    throw new KaupangError(
      "ERR_NOTHING_TO_ROLL_BACK",
      candidates.length > 0 && bounds
        ? `nothing to roll back to: no earlier succeeded deployment is within this site's bounds (every one ${bounds.refusal})`
        : "nothing to roll back to: there is no earlier succeeded deployment",
    );
  }
  return target;
}

export interface RollbackContext {
  ledger: Ledger;
  records: LedgerRecord[];
  /** The id of a deploy that started and holds the lock now (history shows it as running, not interrupted). */
  running?: string;
  root: string;
  cacheDir: string;
  target: string;
  /** Set when the target keeps its state on itself (its lock is there too). */
  remote: RemoteState | undefined;
  /** The target's hosts, when it has some (each has its own ledger). */
  hosts?: string[];
  /** Set on a site that deploys from bundles. */
  bounds?: RollbackBounds;
}

/** Open and verify the ledger of environment@target (a broken chain is an error, never "empty"). */
export async function openLedger(options: {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  host?: string | undefined;
  kaupangVersion?: string | undefined;
}): Promise<RollbackContext> {
  const site = await locateState(options);
  const ledger = ledgerAt(
    site,
    {
      environment: options.environment,
      target: site.target,
      ...(options.host ? { host: options.host } : {}),
    },
    { kaupangVersion: options.kaupangVersion },
  );
  const read = await ledger.read();
  await ledger.verify(read);
  const last = read.records.at(-1);
  let running: string | undefined;
  if (last?.status === "started") {
    const lock = await readLock(ledger.store);
    if (lock.kind === "held" && !holderGone(lock.holder)) running = last.id;
  }
  const bounds = siteBounds(site);
  return {
    ledger,
    records: read.records,
    ...(running ? { running } : {}),
    root: site.root,
    cacheDir: site.cacheDir,
    target: site.target,
    remote: site.remote,
    ...(site.hosts ? { hosts: site.hosts } : {}),
    ...(bounds ? { bounds } : {}),
  };
}

/** The hosts a command acts on: the target's (limited to `only`), or `[undefined]` for a target without hosts. */
export async function hostsOf(options: {
  cwd?: string | undefined;
  target?: string | undefined;
  hosts?: readonly string[] | undefined;
}): Promise<(string | undefined)[]> {
  const state = await locateState(options);
  return placementsOf(
    { name: state.target, backend: "compose", namespace: "", ...(state.hosts ? { hosts: state.hosts } : {}) },
    options.hosts,
  ).map((p) => p.host);
}

/** The ledgers of environment@target: one per host (limited to `hosts`) for a target with hosts. */
export async function openLedgers(options: {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  hosts?: readonly string[] | undefined;
}): Promise<RollbackContext[]> {
  const hosts = await hostsOf(options);
  return Promise.all(hosts.map((host) => openLedger({ ...options, host })));
}

export async function planRollback(
  options: RollbackOptions,
): Promise<{ context: RollbackContext; record: LedgerRecord; unit: DeploymentUnit }> {
  const context = await openLedger(options);
  if (deployments(context.records).length === 0) {
    throw new KaupangError(
      "ERR_NOTHING_TO_ROLL_BACK",
      `nothing to roll back: no deployment of ${options.environment}@${context.target} is recorded`,
      {
        hint: `the ledger lives in ${context.ledger.location}; it must persist between runs`,
      },
    );
  }
  const record = chooseRollbackTarget(context.records, options.to, context.bounds);
  const unit = await context.ledger.readUnit(record);
  const tampered = tamperedBundleUnit(record, unit);
  if (tampered)
    throw new KaupangError("ERR_LEDGER_TAMPERED", `${context.ledger.location}: ${tampered}; refused`);
  return { context, record, unit };
}

/**
 * Roll back on each of the target's hosts in turn (limited to `hosts`), each
 * to the deploy before its own current one (or `to`: a deployment id one run
 * recorded on every host); stops at the first host that fails, naming it.
 * A target without hosts: the one rollback.
 */
export async function rollbackHosts(
  options: Omit<RollbackOptions, "host"> & { hosts?: readonly string[] | undefined },
): Promise<DeploymentSummary[]> {
  const hosts = await hostsOf(options);
  const events = options.events ?? silent;
  const id = newDeploymentId();
  return eachHost(
    hosts.map((host) => (host ? { host } : {})),
    ({ host }) =>
      rollback({ ...options, host, deploymentId: id, events: host ? hostEvents(events, host) : events }),
    { events, what: "rollback" },
  );
}

export async function rollback(options: RollbackOptions): Promise<DeploymentSummary> {
  const { context, record, unit } = await planRollback(options);
  if (unit.backend !== "kubernetes") checkSecrets([unit.environment], options.processEnv);
  const events = options.events ?? silent;
  const locks = await lockEnvironments(context, context.target, [options.environment], {
    ...options,
    hosts: [options.host],
  });
  try {
    const ctx: BackendContext = {
      project: unit.project,
      target: unitTarget(unit, context.root),
      pull: unit.pull,
      root: context.root,
      events,
      timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
    };
    const secrets = await currentFingerprints(
      backendFor(unit.backend),
      ctx,
      unit.environment.secrets,
      options.processEnv,
    );
    return await applyUnit(unit, {
      ctx,
      ledger: context.ledger,
      action: "rollback",
      rollbackOf: record.id,
      ...(record.source ? { source: record.source } : {}),
      ...(record.bundle ? { bundle: record.bundle } : {}),
      ...(secrets ? { secrets } : {}),
      backendImpl: options.backendImpl,
      host: options.host,
      id: options.deploymentId,
    });
  } finally {
    for (const lock of locks) await lock.release();
  }
}
