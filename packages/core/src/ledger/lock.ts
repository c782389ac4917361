/**
 * One deploy at a time per environment@target on a machine: an exclusive lock
 * file holding who has it. A second run waits a bounded time, then fails
 * naming the holder; a lock left by a dead process on this host is taken over.
 * (proper-lockfile judges staleness by age and cannot name the holder, which
 * is the one thing a blocked CI run needs to print.)
 */
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";

interface Holder {
  pid: number;
  host: string;
  since: string;
  command: string;
}

const held = new Set<string>();
process.once("exit", () => {
  for (const path of held) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readHolder(path: string): Holder | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Holder;
  } catch {
    return undefined;
  }
}

export interface Lock {
  release(): void;
}

export async function acquireLock(
  path: string,
  options: { what: string; timeoutMs: number; command: string; events?: EventSink; pollMs?: number },
): Promise<Lock> {
  mkdirSync(dirname(path), { recursive: true });
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: options.command,
  };
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  for (;;) {
    // The holder is written to a private file first and then hard-linked into
    // place: link() is atomic and fails if the lock exists, so a waiter never
    // reads a half-written lock.
    const staging = `${path}.${process.pid}.${Date.now()}`;
    writeFileSync(staging, JSON.stringify(me));
    let linked = false;
    try {
      linkSync(staging, path);
      linked = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      unlinkSync(staging);
    }
    if (linked) {
      held.add(path);
      return {
        release() {
          held.delete(path);
          const current = readHolder(path);
          if (current?.pid === me.pid && current.host === me.host) unlinkSync(path);
        },
      };
    }
    const holder = readHolder(path);
    if (!holder && !existsSync(path)) continue; // released between our attempt and our read
    if (holder && holder.host === me.host && !alive(holder.pid)) {
      options.events?.({
        type: "warning",
        message: `taking over the lock of ${options.what} left by process ${holder.pid}, which is gone`,
      });
      try {
        unlinkSync(path);
      } catch {
        // someone else took it over first
      }
      continue;
    }
    if (Date.now() > deadline) {
      const who = holder
        ? `process ${holder.pid} on ${holder.host} (${holder.command}) since ${holder.since}`
        : "another process (the lock file is unreadable)";
      throw new KaupangError(
        "ERR_LOCKED",
        `${options.what} is being deployed by ${who}; gave up waiting after ${Math.round(options.timeoutMs / 1000)}s`,
        {
          hint: `if that process is gone, remove ${path}`,
        },
      );
    }
    if (!announced) {
      options.events?.({
        type: "stage",
        message: holder
          ? `waiting for ${options.what}: locked by process ${holder.pid} on ${holder.host}`
          : `waiting for ${options.what}: locked (unreadable lock file ${path})`,
      });
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
}
