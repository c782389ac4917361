/**
 * One deploy at a time per environment@target: a lock in the scope's
 * StateStore holding who has it. A second run waits a bounded time, then
 * fails naming the holder and the `kaupang unlock` command. A lock left by a
 * process on this host that is gone is taken over, but only after what that
 * process left running (its children, each in a process group the lock
 * records) has ended, so two applies never overlap.
 *
 * Lock format (JSON, one object): `v` 2, `pid`, `pgid` (the holder's process
 * group), `start` (the holder's start time in clock ticks since boot, Linux:
 * tells it from a later process reusing its pid), `host`, `user`, `ci` (the CI
 * run, where exposed), `since` (ISO time), `command`, and `children`: the
 * process groups of the children running when it last started one
 * (`{pgid, start, command}`). Version 1 locks (pid, host, since, command)
 * still read.
 */
import { hostname } from "node:os";
import * as z from "zod";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { interruptedBy, interruptedError } from "../base/interrupt.js";
import { sleep } from "../base/poll.js";
import { childGroups, onChildrenChange } from "../exec/exec.js";
import { groupAlive, processAlive, processGroup, processStart, stopGroup } from "../exec/processes.js";
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
});
export type LockHolder = z.infer<typeof HolderSchema>;

/** A lock as read: its holder, or the raw text when it cannot be read as one. */
type LockState =
  | { kind: "none" }
  | { kind: "held"; holder: LockHolder; text: string }
  | { kind: "unreadable"; text: string };

export async function readLock(store: StateStore): Promise<LockState> {
  const text = await store.readLock();
  if (text === undefined) return { kind: "none" };
  try {
    const parsed = HolderSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { kind: "held", holder: parsed.data, text };
  } catch {
    // not JSON
  }
  return { kind: "unreadable", text };
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
 * and its own group when it led one (then every member descends from it).
 * Returns one line per group that was still there, saying how it ended.
 */
export async function stopLeftovers(holder: LockHolder, graceMs?: number): Promise<string[]> {
  const groups = [...(holder.children ?? [])];
  if (holder.pgid !== undefined && holder.pgid === holder.pid)
    groups.push({ pgid: holder.pgid, ...(holder.start ? { start: holder.start } : {}), command: "kaupang" });
  const stopped: string[] = [];
  for (const group of groups) {
    if (!groupAlive(group.pgid, group.start)) continue;
    const how = await stopGroup(group.pgid, { start: group.start, ...(graceMs ? { graceMs } : {}) });
    if (how === "gone") continue;
    stopped.push(
      `process group ${group.pgid} (${group.command}): ${how === "stopped" ? "stopped" : how === "killed" ? "killed after it ignored SIGTERM" : "still running after SIGKILL"}`,
    );
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

/** Held locks, rewritten with the current children whenever one starts. */
const held = new Set<{
  store: StateStore;
  holder: LockHolder;
  text: string;
  writing: Promise<void>;
  inFlight: number;
}>();
let listening = false;

function recordChildren(): void {
  const running = childGroups();
  for (const lock of held) {
    // Keep groups from before that still run (a hook's background job outlives the hook).
    const previous = (lock.holder.children ?? []).filter(
      (c) => !running.some((r) => r.pgid === c.pgid) && groupAlive(c.pgid, c.start),
    );
    lock.holder = { ...lock.holder, children: [...previous, ...running] };
    const text = JSON.stringify(lock.holder);
    const write = async () => {
      if (!held.has(lock)) return;
      await lock.store.replaceLock(text);
      lock.text = text;
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
  const holder = { ...me(options.command), children: childGroups() };
  const text = JSON.stringify(holder);
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  let tookOverFrom: LockHolder | undefined;
  for (;;) {
    if (interruptedBy()) throw interruptedError(`while waiting for the lock of ${options.what}`);
    if (await store.createLock(text)) {
      const entry = { store, holder, text, writing: Promise.resolve(), inFlight: 0 };
      held.add(entry);
      if (!listening) {
        onChildrenChange(recordChildren);
        listening = true;
      }
      return {
        holder,
        ...(tookOverFrom ? { tookOverFrom } : {}),
        async release() {
          held.delete(entry);
          await entry.writing.catch(() => {});
          await store.removeLock(entry.text);
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
      if (await store.removeLock(state.text)) tookOverFrom = state.holder;
      continue;
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
    await sleep(options.pollMs ?? 250);
  }
}
