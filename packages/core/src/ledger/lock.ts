/**
 * One deploy at a time per environment@target on a machine: an exclusive lock
 * file holding who has it. A second run waits a bounded time, then fails
 * naming the holder; a lock left by a dead process on this host is taken over.
 * (proper-lockfile judges staleness by age and cannot name the holder, which
 * is the one thing a blocked CI run needs to print.)
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { KaupangError } from "../errors.js";
import type { EventSink } from "../events.js";

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
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      held.add(path);
      return {
        release() {
          held.delete(path);
          const current = readHolder(path);
          if (current?.pid === me.pid && current.host === me.host) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
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
        : "another process";
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
        message: `waiting for ${options.what}: locked by process ${holder?.pid ?? "?"} on ${holder?.host ?? "?"}`,
      });
      announced = true;
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
}
