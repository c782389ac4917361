/**
 * One deploy at a time per environment@target: a lock in the scope's
 * StateStore holding who has it. A second run waits a bounded time, then
 * fails naming the holder and the `kaupang unlock` command. A lock left by a
 * process on this host that is gone is taken over, but only after what that
 * process left running (its children, each in a process group the lock
 * records) has ended, so two applies never overlap.
 *
 * A store shared by machines (on the target) has leases: the holder renews
 * its lock every third of its lease, and a waiter that has seen the same
 * version of a lock for a whole lease (by its own clock, so clocks need not
 * agree, as with a Kubernetes Lease) takes it over, saying so: the holder's
 * process or machine stopped.
 *
 * Lock format (JSON, one object): `v` 2, `pid`, `pgid` (the holder's process
 * group), `start` (the holder's start time in clock ticks since boot, Linux:
 * tells it from a later process reusing its pid), `host`, `user`, `ci` (the CI
 * run, where exposed), `since` (ISO time), `command`, and `children`: the
 * process groups of the children running when it last started one
 * (`{pgid, start, command}`); on a shared store also `lease` (seconds: how long
 * waiters wait for a renewal before taking it over). Version 1 locks (pid,
 * host, since, command) still read.
 */
import { hostname } from "node:os";
import * as z from "zod";
import { isKaupangError, KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { interruptedBy, interruptedError } from "../base/interrupt.js";
import { sleep } from "../base/poll.js";
import { redact } from "../base/redact.js";
import { childGroups, onChildrenChange, runTag, runTagVariable } from "../exec/exec.js";
import {
  groupAlive,
  processAlive,
  processesTagged,
  processGroup,
  processStart,
  stopGroup,
  stopProcess,
} from "../exec/processes.js";
import { whoami } from "./ledger.js";
import type { StateStore } from "./store.js";

const ChildSchema = z.object({ pgid: z.number(), start: z.number().optional(), command: z.string() });

const HolderSchema = z.object({
  v: z.number().optional(),
  pid: z.number(),
  pgid: z.number().optional(),
  start: z.number().optional(),
  host: z.string(),
  user: z.string().optional(),
  ci: z.string().optional(),
  since: z.string(),
  command: z.string(),
  children: z.array(ChildSchema).optional(),
  lease: z.number().optional(),
});
export type LockHolder = z.infer<typeof HolderSchema>;

/** A lock as read: its holder, or the raw text when it cannot be read as one. */
type LockRead =
  | { kind: "none" }
  | { kind: "held"; holder: LockHolder; text: string; version: string }
  | { kind: "unreadable"; text: string; version: string };

export async function readLock(store: StateStore): Promise<LockRead> {
  const lock = await store.readLock();
  if (lock === undefined) return { kind: "none" };
  try {
    const parsed = HolderSchema.safeParse(JSON.parse(lock.text));
    if (parsed.success) return { kind: "held", holder: parsed.data, ...lock };
  } catch {
    // not JSON
  }
  return { kind: "unreadable", ...lock };
}

/** Whether the holder is known to be gone: a process of this host that no longer runs. */
export function holderGone(holder: LockHolder): boolean {
  return holder.host === hostname() && !processAlive(holder.pid, holder.start);
}

/** "process 123 on host (user, ci run) running `kaupang up web` since 2026-…" */
export function describeHolder(holder: LockHolder): string {
  const who = [holder.user, holder.ci].filter(Boolean).join(", ");
  return `process ${holder.pid} on ${holder.host}${who ? ` (${who})` : ""} running \`${holder.command}\` since ${holder.since}`;
}

/** The unlock command for a scope, as every lock error's hint gives it. */
export function unlockCommand(store: StateStore): string {
  return `kaupang unlock ${store.scope.environment} --target ${store.scope.target}`;
}

/**
 * End what a gone holder left running: the process groups of its children,
 * and its own group when it led one (then every member descends from it) —
 * and any process still carrying its run tag (a child it started just before
 * it was killed, before the lock recorded it): its group when the group's
 * leader carries the tag too, else that process alone. Returns one line per
 * group or process that was still there, saying how it ended.
 */
export async function stopLeftovers(holder: LockHolder, graceMs?: number): Promise<string[]> {
  const groups = [...(holder.children ?? [])];
  if (holder.pgid !== undefined && holder.pgid === holder.pid)
    groups.push({ pgid: holder.pgid, ...(holder.start ? { start: holder.start } : {}), command: "kaupang" });
  const tag = runTag(holder.pid, holder.start);
  const tagged = tag && holder.host === hostname() ? processesTagged(`${runTagVariable}=${tag}`) : [];
  const own = processGroup(process.pid);
  const singles: typeof tagged = [];
  for (const found of tagged) {
    if (groups.some((g) => g.pgid === found.pgid)) continue;
    // Never this process's own group: only the tagged process itself.
    if (found.pgid !== own && tagged.some((t) => t.pid === found.pgid))
      groups.push({ pgid: found.pgid, command: found.command });
    else singles.push(found);
  }
  const stopped: string[] = [];
  const how = (result: string) =>
    result === "stopped"
      ? "stopped"
      : result === "killed"
        ? "killed after it ignored SIGTERM"
        : "still running after SIGKILL";
  for (const group of groups) {
    if (!groupAlive(group.pgid, group.start)) continue;
    const result = await stopGroup(group.pgid, { start: group.start, ...(graceMs ? { graceMs } : {}) });
    if (result === "gone") continue;
    stopped.push(`process group ${group.pgid} (${redact(group.command)}): ${how(result)}`);
  }
  for (const single of singles) {
    const result = await stopProcess(single.pid, graceMs ? { graceMs } : {});
    if (result === "gone") continue;
    stopped.push(`process ${single.pid} (${redact(single.command)}): ${how(result)}`);
  }
  return stopped;
}

export interface Lock {
  /** Who holds it (this process). */
  holder: LockHolder;
  /** The holder this process took the lock over from, when it was gone. */
  tookOverFrom?: LockHolder;
  release(): Promise<void>;
}

function me(command: string): LockHolder {
  const by = whoami();
  const pgid = processGroup(process.pid);
  const start = processStart(process.pid);
  return {
    v: 2,
    pid: process.pid,
    ...(pgid !== undefined ? { pgid } : {}),
    ...(start !== undefined ? { start } : {}),
    host: by.host,
    user: by.user,
    ...(by.ci ? { ci: by.ci } : {}),
    since: new Date().toISOString(),
    command,
    children: [],
  };
}

interface HeldLock {
  store: StateStore;
  what: string;
  holder: LockHolder;
  /** The version of the lock as this process last wrote it. */
  version: string;
  writing: Promise<void>;
  inFlight: number;
  events?: EventSink | undefined;
  renewal?: NodeJS.Timeout;
  lost?: boolean;
}

/** Held locks, rewritten with the current children whenever one starts (and renewed on a shared store). */
const held = new Set<HeldLock>();
let listening = false;

/** Write the holder again (in order with the lock's other writes): the current children, and a renewal. */
function rewrite(lock: HeldLock): void {
  const text = JSON.stringify(lock.holder);
  const write = async () => {
    if (!held.has(lock) || lock.lost) return;
    try {
      lock.version = await lock.store.replaceLock(text);
    } catch (error) {
      if (!isKaupangError(error) || error.code !== "ERR_LOCK_LOST") throw error;
      lock.lost = true;
      lock.events?.({ type: "warning", message: `${error.message}; its records are still chained safely` });
    }
  };
  // In order; with none pending it starts at once (a local store writes synchronously,
  // so a kill right after the child started still finds its group in the lock).
  const run = lock.inFlight === 0 ? write() : lock.writing.then(write);
  lock.inFlight++;
  lock.writing = run
    .catch(() => {})
    .finally(() => {
      lock.inFlight--;
    });
}

function recordChildren(): void {
  const running = childGroups();
  for (const lock of held) {
    // Keep groups from before that still run (a hook's background job outlives the hook).
    const previous = (lock.holder.children ?? []).filter(
      (c) => !running.some((r) => r.pgid === c.pgid) && groupAlive(c.pgid, c.start),
    );
    lock.holder = { ...lock.holder, children: [...previous, ...running] };
    rewrite(lock);
  }
}

/** The lease (ms) of a lock as read: its holder's, else the store's. */
function leaseOf(store: StateStore, state: LockRead): number | undefined {
  if (store.leaseMs === undefined) return undefined;
  return state.kind === "held" && state.holder.lease ? state.holder.lease * 1000 : store.leaseMs;
}

export async function acquireLock(
  store: StateStore,
  options: {
    what: string;
    timeoutMs: number;
    command: string;
    events?: EventSink | undefined;
    pollMs?: number;
    /** How long a gone holder's children get after SIGTERM before SIGKILL. */
    graceMs?: number;
  },
): Promise<Lock> {
  const lease = store.leaseMs;
  const holder: LockHolder = {
    ...me(options.command),
    children: childGroups(),
    ...(lease !== undefined ? { lease: Math.ceil(lease / 1000) } : {}),
  };
  const text = JSON.stringify(holder);
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  let tookOverFrom: LockHolder | undefined;
  /** The version of the lock seen first, and since when (this process's clock): a lease runs out against it. */
  let seen: { version: string; since: number } | undefined;
  for (;;) {
    if (interruptedBy()) throw interruptedError(`while waiting for the lock of ${options.what}`);
    const version = await store.createLock(text);
    if (version !== undefined) {
      const entry: HeldLock = {
        store,
        what: options.what,
        holder,
        version,
        writing: Promise.resolve(),
        inFlight: 0,
        events: options.events,
      };
      held.add(entry);
      if (!listening) {
        onChildrenChange(recordChildren);
        listening = true;
      }
      // A shared store's lease is renewed every third of it, so a slow request or two never lets it lapse.
      if (lease !== undefined) entry.renewal = setInterval(() => rewrite(entry), lease / 3).unref();
      return {
        holder,
        ...(tookOverFrom ? { tookOverFrom } : {}),
        async release() {
          if (entry.renewal) clearInterval(entry.renewal);
          held.delete(entry);
          await entry.writing.catch(() => {});
          if (!entry.lost) await store.removeLock(entry.version);
        },
      };
    }
    const state = await readLock(store);
    if (state.kind === "none") continue; // released between our attempt and our read
    if (state.kind === "held" && holderGone(state.holder)) {
      const stopped = await stopLeftovers(state.holder, options.graceMs);
      options.events?.({
        type: "warning",
        message: `taking over the lock of ${options.what}: ${describeHolder(state.holder)} is gone${
          stopped.length > 0 ? `; first ended what it left running: ${stopped.join("; ")}` : ""
        }`,
      });
      if (await store.removeLock(state.version))
        tookOverFrom = state.kind === "held" ? state.holder : undefined;
      continue;
    }
    const stateLease = leaseOf(store, state);
    if (stateLease !== undefined) {
      const now = performance.now();
      if (seen?.version !== state.version) seen = { version: state.version, since: now };
      else if (now - seen.since >= stateLease) {
        const who =
          state.kind === "held"
            ? describeHolder(state.holder)
            : `the holder of an unreadable lock (${store.lockLocation})`;
        options.events?.({
          type: "warning",
          message: `taking over the lock of ${options.what}: ${who} has not renewed it for ${Math.round(stateLease / 1000)}s (its lease expired: the process or its machine stopped)`,
        });
        if ((await store.removeLock(state.version)) && state.kind === "held") tookOverFrom = state.holder;
        seen = undefined;
        continue;
      }
    }
    if (Date.now() > deadline) {
      const who =
        state.kind === "held"
          ? describeHolder(state.holder)
          : `another process (the lock ${store.lockLocation} is unreadable: ${JSON.stringify(state.text.slice(0, 60))})`;
      const other = state.kind === "held" && state.holder.host !== hostname();
      throw new KaupangError(
        "ERR_LOCKED",
        `${options.what} is being deployed by ${who}; gave up waiting after ${Math.round(options.timeoutMs / 1000)}s`,
        {
          hint:
            state.kind === "held" && !other
              ? `if that process is stuck, stop it; if it is gone, run: ${unlockCommand(store)}`
              : `if no deploy is running${other ? ` on ${state.kind === "held" ? state.holder.host : "that host"}` : ""}, run: ${unlockCommand(store)}`,
        },
      );
    }
    if (!announced) {
      options.events?.({
        type: "stage",
        message:
          state.kind === "held"
            ? `waiting for ${options.what}: locked by ${describeHolder(state.holder)}`
            : `waiting for ${options.what}: locked (unreadable lock ${store.lockLocation})`,
      });
      announced = true;
    }
    await sleep(options.pollMs ?? (lease !== undefined ? 500 : 250));
  }
}
