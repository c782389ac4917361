/**
 * Intent before action: a deploy (or down) appends a `started` record before
 * its first side effect and exactly one outcome record after it. Deploys in
 * flight are known here, so an interrupt that cannot wait for them to unwind
 * still records `interrupted` for each (`recordInterrupted`); whichever
 * writes first wins, the other is a no-op.
 */
import type { Ledger, NewRecord } from "../ledger/ledger.js";
import type { LedgerRecord } from "../ledger/record.js";

type Outcome = "succeeded" | "failed" | "interrupted";

interface OpenDeployment {
  readonly started: LedgerRecord;
  /** Record the outcome (once; later calls return the first outcome). */
  finish(status: Outcome, extra?: Pick<NewRecord, "failedStep" | "error">): Promise<LedgerRecord | undefined>;
}

const inFlight = new Set<OpenDeployment>();

/** Append the `started` record of `entry` and track the deployment until its outcome is recorded. */
export async function startDeployment(
  ledger: Ledger,
  entry: Omit<NewRecord, "status">,
): Promise<OpenDeployment> {
  const started = await ledger.append({ ...entry, status: "started" });
  let outcome: Promise<LedgerRecord | undefined> | undefined;
  const deployment: OpenDeployment = {
    started,
    finish(status, extra = {}) {
      inFlight.delete(deployment);
      outcome ??= ledger.append({
        ...entry,
        status,
        ...(extra.failedStep ? { failedStep: extra.failedStep } : {}),
        ...(extra.error ? { error: extra.error } : {}),
        endedAt: new Date().toISOString(),
      });
      return outcome;
    },
  };
  inFlight.add(deployment);
  return deployment;
}

/** Record `interrupted` for every deployment still in flight (the CLI's last act on an interrupt). */
export async function recordInterrupted(reason: string): Promise<void> {
  await Promise.allSettled([...inFlight].map((d) => d.finish("interrupted", { error: reason })));
}
