/**
 * `kaupang rollback`: replay a recorded deployment through the same apply path
 * as `up`, with no re-resolution. Default target: the succeeded deployment
 * before the current one — or, when the latest record failed, the last
 * succeeded one (what is running, or should be). Failed deploys are never a
 * target. Every rollback is itself recorded, so it can be rolled back.
 */

import { defaultTimeoutMs } from "../backends/context.js";
import { KaupangError } from "../base/errors.js";
import { silent } from "../base/events.js";
import { Ledger } from "../ledger/ledger.js";
import type { LedgerRecord } from "../ledger/record.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { applyUnit, type DeploymentSummary } from "./apply-unit.js";
import { lockEnvironments } from "./locks.js";
import { checkSecrets } from "./secrets.js";
import { locateState } from "./state-location.js";
import type { ApplyOptions } from "./up.js";

export interface RollbackOptions extends ApplyOptions {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  /** A deployment id to return to. */
  to?: string | undefined;
}

/** Deploys that changed something (an "unchanged" record repeats the one before it). */
const deployments = (records: readonly LedgerRecord[]) =>
  records.filter((r) => r.action !== "down" && r.status !== "unchanged");

/** The record a rollback returns to. */
export function chooseRollbackTarget(records: readonly LedgerRecord[], to?: string): LedgerRecord {
  const history = deployments(records);
  if (to !== undefined) {
    const found = records.find((r) => r.id === to);
    if (!found)
      throw new KaupangError("ERR_ROLLBACK_UNKNOWN", `no deployment ${to} in this ledger`, {
        hint: "list them with kaupang rollback <env> --list",
      });
    if (found.status !== "succeeded" || !found.unit) {
      throw new KaupangError(
        "ERR_ROLLBACK_FAILED_TARGET",
        `deployment ${to} ${found.action === "down" ? "was a down" : "failed"}; only a succeeded deployment can be rolled back to`,
      );
    }
    return found;
  }
  const latest = history[history.length - 1];
  if (!latest)
    throw new KaupangError("ERR_NOTHING_TO_ROLL_BACK", "nothing to roll back: no deployment is recorded");
  const succeeded = history.filter((r) => r.status === "succeeded" && r.unit);
  const target =
    latest.status === "succeeded" ? succeeded[succeeded.length - 2] : succeeded[succeeded.length - 1];
  if (!target) {
    throw new KaupangError(
      "ERR_NOTHING_TO_ROLL_BACK",
      "nothing to roll back to: there is no earlier succeeded deployment",
    );
  }
  return target;
}

export interface RollbackContext {
  ledger: Ledger;
  records: LedgerRecord[];
  root: string;
  cacheDir: string;
  target: string;
}

/** Open and verify the ledger of environment@target (a broken chain is an error, never "empty"). */
export async function openLedger(options: {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  kaupangVersion?: string | undefined;
}): Promise<RollbackContext> {
  const state = await locateState(options);
  const ledger = new Ledger(state.cacheDir, options.environment, state.target, {
    root: state.root,
    ...(options.kaupangVersion ? { kaupangVersion: options.kaupangVersion } : {}),
  });
  const read = ledger.read();
  ledger.verify(read);
  return { ledger, records: read.records, root: state.root, cacheDir: state.cacheDir, target: state.target };
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
        hint: `the ledger lives in ${context.ledger.path}; it must persist between runs`,
      },
    );
  }
  const record = chooseRollbackTarget(context.records, options.to);
  return { context, record, unit: context.ledger.readUnit(record) };
}

export async function rollback(options: RollbackOptions): Promise<DeploymentSummary> {
  const { context, record, unit } = await planRollback(options);
  if (unit.backend !== "kubernetes") checkSecrets([unit.environment], options.processEnv);
  const events = options.events ?? silent;
  const locks = await lockEnvironments(context.cacheDir, context.target, [options.environment], options);
  try {
    return await applyUnit(unit, {
      ctx: {
        project: unit.project,
        target: unit.target,
        pull: unit.pull,
        root: context.root,
        events,
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
      },
      ledger: context.ledger,
      action: "rollback",
      rollbackOf: record.id,
      backendImpl: options.backendImpl,
    });
  } finally {
    for (const lock of locks) lock.release();
  }
}
