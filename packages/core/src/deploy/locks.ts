/**
 * The locks of a run's environments, and `kaupang unlock`. Taking a lock
 * over from a holder that is gone also closes the deploy it left open (a
 * `started` record with no outcome gets an `interrupted` one), so history
 * says what happened and the next deploy proceeds.
 */
import { hostname } from "node:os";
import { isKaupangError, KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { closeOpenDeployments, ledgerAt } from "../ledger/ledger.js";
import {
  acquireLock,
  describeHolder,
  holderGone,
  type Lock,
  type LockHolder,
  readLock,
  stopLeftovers,
  unlockCommand,
} from "../ledger/lock.js";
import { type StoreLocation, stateScopes, stateStore } from "../ledger/state-store.js";
import type { Scope } from "../ledger/store.js";
import { locateState } from "./state-location.js";

/**
 * The ledgers one lock guards: locally, the environment@target's own and one
 * per host of a target with hosts (one lock for all); on the target, the
 * ledger beside the lock (a host's own, for a target with hosts).
 */
async function guardedScopes(location: StoreLocation, scope: Scope): Promise<Scope[]> {
  if (location.remote) return [scope];
  const hosts = (await stateScopes(location)).filter(
    (s) => s.host && s.environment === scope.environment && s.target === scope.target,
  );
  return [scope, ...hosts];
}

const interruptedReason = (holder: LockHolder | undefined, by: string) =>
  holder
    ? `no outcome was recorded: ${describeHolder(holder)} ended without one (killed, or its machine stopped); closed by ${by}`
    : `no outcome was recorded: the process that started it ended without one (killed, or its machine stopped); closed by ${by}`;

/**
 * The scopes whose locks a run of environment@target takes: the one lock of
 * environment@target, or with state on the target of a target with hosts,
 * the lock on each host the run acts on (in the target's order).
 */
function lockScopes(location: StoreLocation, scope: Scope, hosts: readonly (string | undefined)[]): Scope[] {
  const on = hosts.filter((h): h is string => !!h);
  if (!location.remote || on.length === 0) return [scope];
  return on.map((host) => ({ ...scope, host }));
}

/**
 * Take the locks of `environments` (sorted, and each one's hosts in the
 * target's order, so two runs never deadlock). `hosts`: those the run acts
 * on, for a target with hosts.
 */
export async function lockEnvironments(
  location: StoreLocation,
  target: string,
  environments: readonly string[],
  options: {
    events?: EventSink | undefined;
    timeoutMs?: number | undefined;
    command?: string | undefined;
    kaupangVersion?: string | undefined;
    hosts?: readonly (string | undefined)[] | undefined;
  },
): Promise<Lock[]> {
  const locks: Lock[] = [];
  const command = options.command ?? "kaupang";
  try {
    for (const scope of [...environments]
      .sort()
      .flatMap((name) => lockScopes(location, { environment: name, target }, options.hosts ?? []))) {
      const name = scope.environment;
      const lock = await acquireLock(stateStore(location, scope), {
        what: `${name}@${target}${scope.host ? ` on ${scope.host}` : ""}`,
        timeoutMs: options.timeoutMs ?? 5 * 60_000,
        command,
        ...(options.events ? { events: options.events } : {}),
      });
      locks.push(lock);
      for (const guarded of await guardedScopes(location, scope)) {
        const ledger = ledgerAt(location, guarded, { kaupangVersion: options.kaupangVersion });
        for (const closed of await closeOpenDeployments(
          ledger,
          interruptedReason(lock.tookOverFrom, command),
        )) {
          options.events?.({
            type: "warning",
            scope: name,
            message: `deploy ${closed.id} (${closed.action})${guarded.host ? ` on ${guarded.host}` : ""} never recorded an outcome: recorded it as interrupted`,
          });
        }
      }
    }
    return locks;
  } catch (error) {
    for (const lock of locks) await lock.release();
    // The target refused its state: say that the run stopped before it changed anything.
    if (isKaupangError(error) && /^ERR_(STATE_|ENGINE_UNREACHABLE|KUBECONFIG)/.test(error.code))
      throw new KaupangError(error.code, `${error.message}; nothing was changed`, {
        ...(error.hint ? { hint: error.hint } : {}),
      });
    throw error;
  }
}

export interface UnlockResult {
  environment: string;
  target: string;
  /** The host whose lock this is (state on the target of a target with hosts: one lock per host). */
  host?: string;
  /** none: there was no lock. */
  state: "none" | "gone" | "other-host" | "unreadable" | "live";
  holder?: LockHolder;
  /** The raw lock text when it could not be read as a holder. */
  text?: string;
  /** What the gone holder left running and how it ended. */
  stopped: string[];
  removed: boolean;
  /** Deploys left open by the holder, now recorded as interrupted. */
  closed: string[];
}

/**
 * `kaupang unlock <env>`: clear a lock whose holder is gone, on another host
 * or unreadable, after ending what a gone local holder left running and
 * recording its open deploy as interrupted. A lock held by a live process on
 * this host is refused unless `force` (then the lock is removed and that
 * process keeps running).
 */
export async function unlock(options: {
  cwd?: string | undefined;
  environment: string;
  target?: string | undefined;
  force?: boolean | undefined;
  kaupangVersion?: string | undefined;
}): Promise<UnlockResult[]> {
  const site = await locateState(options);
  const results: UnlockResult[] = [];
  // State on the target of a target with hosts: each host's engine has its own lock.
  for (const host of site.remote && site.hosts ? site.hosts : [undefined])
    results.push(
      await unlockScope(site, { environment: options.environment, target: site.target, host }, options),
    );
  return results;
}

async function unlockScope(
  site: StoreLocation,
  at: Scope,
  options: { force?: boolean | undefined; kaupangVersion?: string | undefined },
): Promise<UnlockResult> {
  const scope = { environment: at.environment, target: at.target, ...(at.host ? { host: at.host } : {}) };
  const store = stateStore(site, scope);
  const what = `${scope.environment}@${scope.target}${scope.host ? ` on ${scope.host}` : ""}`;
  const lock = await readLock(store);
  const result: UnlockResult = { ...scope, state: "none", stopped: [], removed: false, closed: [] };
  if (lock.kind === "none") return result;
  if (lock.kind === "unreadable") {
    result.state = "unreadable";
    result.text = lock.text;
  } else {
    result.holder = lock.holder;
    const local = lock.holder.host === hostname();
    result.state = !local ? "other-host" : holderGone(lock.holder) ? "gone" : "live";
    if (result.state === "live" && !options.force) {
      throw new KaupangError(
        "ERR_LOCK_HELD",
        `${what} is locked by ${describeHolder(lock.holder)}, which is still running; nothing was changed`,
        {
          hint: `wait for it or stop it; to remove its lock anyway (it keeps running): ${unlockCommand(store)} --force`,
        },
      );
    }
    if (result.state === "gone") result.stopped = await stopLeftovers(lock.holder);
  }
  result.removed = await store.removeLock(lock.version);
  if (result.state === "live") return result;
  // Close the deploy the holder left open, under the lock like any write.
  const ours = await acquireLock(store, {
    what,
    timeoutMs: 0,
    command: "kaupang unlock",
  });
  try {
    const reason = interruptedReason(result.holder, "kaupang unlock");
    for (const guarded of await guardedScopes(site, scope)) {
      const ledger = ledgerAt(site, guarded, { kaupangVersion: options.kaupangVersion });
      result.closed.push(...(await closeOpenDeployments(ledger, reason)).map((r) => r.id));
    }
  } finally {
    await ours.release();
  }
  return result;
}
