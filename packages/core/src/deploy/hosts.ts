/**
 * Several hosts per target (compose over ssh, Kamal's model, no agent): a
 * run goes to one host after the other in the order the target lists them,
 * each one health-gated (compose `up --wait`, then kaupang's own read-back),
 * and stops at the first host that fails, naming it. Every host has its own
 * ledger (`ledger/<env>@<target>/<host>.jsonl`), so status, history and
 * rollback read each host's own deploys.
 */
import type { BackendContext } from "../backends/backend.js";
import { errorMessage, isKaupangError, KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import type { TargetSettings } from "../base/target.js";

/** Where a run acts: the whole target, or one of its hosts. */
export interface Placement {
  /** The host's URL (ssh://…); undefined for a target without hosts. */
  host?: string;
  /** The target as a unit on this host records it: `dockerHost` set, no `hosts`. */
  target: TargetSettings;
}

/** "10.0.0.5" for "ssh://deploy@10.0.0.5", "10.0.0.5:2222" with a port: what output lines are prefixed with. */
export function hostLabel(url: string): string {
  return url.replace(/^[a-z]+:\/\//, "").replace(/^[^@]*@/, "");
}

/**
 * The placements of a run: one per host of the target (in its order, limited
 * to `only` when given: `--hosts`), or the target itself when it has none.
 */
export function placementsOf(target: TargetSettings, only?: readonly string[]): Placement[] {
  const hosts = target.hosts ?? [];
  if (hosts.length === 0) {
    if (only && only.length > 0) {
      throw new KaupangError("ERR_NO_HOSTS", `--hosts: target "${target.name}" has no hosts`, {
        hint: `give the target hosts: ["ssh://user@host", …] in the config, or leave --hosts out`,
      });
    }
    return [{ target }];
  }
  let chosen = hosts;
  if (only && only.length > 0) {
    const wanted = new Set<string>();
    for (const name of only) {
      const match = hosts.find(
        (h) => h === name || h.replace(/^ssh:\/\//, "") === name || hostLabel(h) === name,
      );
      if (!match) {
        throw new KaupangError(
          "ERR_UNKNOWN_HOST",
          `--hosts: "${name}" is not a host of target "${target.name}"; its hosts: ${hosts.join(", ")}`,
        );
      }
      wanted.add(match);
    }
    chosen = hosts.filter((h) => wanted.has(h));
  }
  const { hosts: _all, ...rest } = target;
  return chosen.map((host) => ({ host, target: { ...rest, dockerHost: host } }));
}

/** Events of one host's part of a run: scoped `<env>@<host>`, so interleaved output stays readable. */
export function hostEvents(events: EventSink, host: string): EventSink {
  const label = hostLabel(host);
  return (event) => events({ ...event, scope: event.scope ? `${event.scope}@${label}` : label });
}

/** A backend context for one placement: its engine, and its events scoped to the host. */
export function placedContext(ctx: BackendContext, placement: Placement): BackendContext {
  if (!placement.host) return ctx;
  return { ...ctx, target: placement.target, events: hostEvents(ctx.events, placement.host) };
}

/** What happened on each host of a run that stopped at a failure. */
export interface HostsFailure {
  failed: { host?: string };
  error: unknown;
  /** Hosts done before it, in order (they run the new version). */
  done: { host?: string }[];
  /** Hosts never started. */
  notStarted: { host?: string }[];
}

interface EachHostOptions {
  events: EventSink;
  /** "deploy", "rollback", "down": for the messages. */
  what: string;
  /**
   * Called when a host fails, before the run stops: where
   * `--rollback-on-failure` restores the hosts already done (each from its
   * own ledger); what it returns is added to the error's hint. Without it,
   * those hosts keep the new version.
   */
  onFailure?: ((failure: HostsFailure) => Promise<string | undefined>) | undefined;
}

/**
 * Run `each` for every placement in turn; stop at the first failure and
 * throw an error naming the host, the hosts done and those not started.
 */
export async function eachHost<P extends { host?: string }, T>(
  placements: readonly P[],
  each: (placement: P) => Promise<T>,
  options: EachHostOptions,
): Promise<T[]> {
  const results: T[] = [];
  const many = placements.some((p) => p.host);
  for (const [index, placement] of placements.entries()) {
    if (many && placement.host) {
      options.events({
        type: "stage",
        message: `host ${index + 1}/${placements.length}: ${placement.host}`,
      });
    }
    try {
      results.push(await each(placement));
    } catch (error) {
      if (!placement.host) throw error;
      const failure: HostsFailure = {
        failed: placement,
        error,
        done: placements.slice(0, index),
        notStarted: placements.slice(index + 1),
      };
      const note = await options.onFailure?.(failure);
      throw hostError(failure, options.what, note);
    }
  }
  return results;
}

function hostError(failure: HostsFailure, what: string, note: string | undefined): KaupangError {
  const host = failure.failed.host!;
  const list = (ps: { host?: string }[]) => ps.map((p) => p.host).join(", ") || "none";
  const cause = failure.error;
  const done = `done before it: ${list(failure.done)}`;
  return new KaupangError(
    isKaupangError(cause) ? cause.code : "ERR_DEPLOY_FAILED",
    `host ${host}: ${errorMessage(cause)}`,
    {
      hint: `${what} stopped at ${host}; ${done}; not started: ${list(failure.notStarted)}${note ? `; ${note}` : ""}${isKaupangError(cause) && cause.hint ? `. ${cause.hint}` : ""}`,
      details: { ...(isKaupangError(cause) ? cause.details : {}), host },
      cause,
    },
  );
}
