/**
 * `up --rollback-on-failure` on a target with hosts: when a host fails, the
 * hosts done before it return to what they ran before this run, each from its
 * own ledger, through the one apply path (recorded as rollbacks). The failed
 * host's failed environment is restored by `applyUnit` itself, as on a target
 * without hosts.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { errorMessage } from "../base/errors.js";
import type { Ledger } from "../ledger/ledger.js";
import type { LedgerRecord } from "../ledger/record.js";
import { applyUnit } from "./apply-unit.js";
import { type HostsFailure, hostLabel } from "./hosts.js";

/** An environment a run changed on one host, and what was current there before. */
export interface AppliedOnHost {
  environment: string;
  deploymentId: string;
  ledger: Ledger;
  /** The record current before this run; undefined when nothing was deployed there. */
  previous: LedgerRecord | undefined;
  secrets?: LedgerRecord["secrets"];
}

interface RestoreOptions {
  /** What the run changed, by host URL. */
  applied: ReadonlyMap<string, readonly AppliedOnHost[]>;
  /** Each host's backend context (its engine, its scoped events). */
  contexts: ReadonlyMap<string, BackendContext>;
  /** The environments in deploy order (dependencies first). */
  order: readonly string[];
  /** The deploy that failed (recorded as each rollback's trigger). */
  trigger?: string | undefined;
  backendImpl?: Backend | undefined;
}

/**
 * Roll the hosts done before the failed one back, host by host in the order
 * they were deployed, each environment in deploy order. A failing rollback
 * is reported and the others still run. Returns one line for the error's
 * hint: what was restored, and what was not.
 */
export async function restoreDoneHosts(failure: HostsFailure, options: RestoreOptions): Promise<string> {
  const restored: string[] = [];
  const notRestored: string[] = [];
  for (const { host } of failure.done) {
    if (!host) continue;
    const ctx = options.contexts.get(host)!;
    const label = hostLabel(host);
    const entries = [...(options.applied.get(host) ?? [])].sort(
      (a, b) => options.order.indexOf(a.environment) - options.order.indexOf(b.environment),
    );
    for (const entry of entries) {
      const scope = entry.environment;
      const where = `${scope}@${label}`;
      if (!entry.previous) {
        ctx.events({
          type: "warning",
          scope,
          message: `no earlier deploy on this host to roll back to: it keeps ${entry.deploymentId}`,
        });
        notRestored.push(`${where} (nothing before ${entry.deploymentId})`);
        continue;
      }
      const previous = entry.previous;
      ctx.events({
        type: "warning",
        scope,
        message: `the run failed at ${failure.failed.host}: rolling back to ${previous.id}`,
      });
      try {
        const unit = await entry.ledger.readUnit(previous);
        const result = await applyUnit(unit, {
          ctx,
          ledger: entry.ledger,
          action: "rollback",
          rollbackOf: previous.id,
          ...(options.trigger ? { trigger: options.trigger } : {}),
          backendImpl: options.backendImpl,
          ...(entry.secrets ? { secrets: entry.secrets } : {}),
        });
        restored.push(`${where} to ${previous.id} (as ${result.deploymentId})`);
      } catch (error) {
        ctx.events({
          type: "warning",
          scope,
          message: `the rollback to ${previous.id} failed: ${errorMessage(error)}`,
        });
        notRestored.push(`${where} (its rollback failed: ${errorMessage(error)})`);
      }
    }
  }
  const parts = [
    `rolled back: ${restored.join(", ") || "none"}`,
    ...(notRestored.length > 0 ? [`not rolled back: ${notRestored.join(", ")}`] : []),
  ];
  return parts.join("; ");
}
