import { resolve as resolvePath } from "node:path";
import type { EventSink } from "../base/events.js";
import { acquireLock, type Lock } from "../ledger/lock.js";

/** Take the locks of `environments` (sorted, so two runs never deadlock). */
export async function lockEnvironments(
  cacheDir: string,
  target: string,
  environments: readonly string[],
  options: {
    events?: EventSink | undefined;
    timeoutMs?: number | undefined;
    command?: string | undefined;
  },
): Promise<Lock[]> {
  const locks: Lock[] = [];
  try {
    for (const name of [...environments].sort()) {
      locks.push(
        await acquireLock(resolvePath(cacheDir, "locks", `${name}@${target}.lock`), {
          what: `${name}@${target}`,
          timeoutMs: options.timeoutMs ?? 5 * 60_000,
          command: options.command ?? "kaupang",
          ...(options.events ? { events: options.events } : {}),
        }),
      );
    }
    return locks;
  } catch (error) {
    for (const lock of locks) lock.release();
    throw error;
  }
}
