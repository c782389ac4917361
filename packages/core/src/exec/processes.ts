/**
 * Questions about processes kaupang did not necessarily start: is a process
 * (still the same one) alive, which process group it leads, and stopping a
 * whole group. Used to take over the lock of a deploy that was killed: its
 * children (each started in a process group of its own) may still run and
 * must end before another deploy applies beside them.
 *
 * On Linux a process's start time (clock ticks since boot, /proc/<pid>/stat)
 * tells a live process from a later one that reused its pid; elsewhere only
 * the pid is checked.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Start time of a process (clock ticks since boot; Linux only), or undefined. */
export function processStart(pid: number): number | undefined {
  const value = Number(statFields(pid)?.[19]);
  return Number.isFinite(value) ? value : undefined;
}

/** The process group a process belongs to (Linux only), or undefined. */
export function processGroup(pid: number): number | undefined {
  const value = Number(statFields(pid)?.[2]);
  return Number.isFinite(value) ? value : undefined;
}

function signalOk(target: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether `pid` runs and, when `start` is known, is the process that started then (not a reuse of its pid). */
export function processAlive(pid: number, start?: number): boolean {
  if (!signalOk(pid, 0)) return false;
  const fields = statFields(pid);
  if (fields && (fields[0] === "Z" || fields[0] === "X")) return false; // exited, not yet reaped
  if (start === undefined || !fields) return true;
  return Number(fields[19]) === start;
}

const hasProc = existsSync("/proc/self/stat");

/** Members of a process group that have not exited (zombies left unreaped do not count); Linux only. */
function liveMembers(pgid: number): number {
  let count = 0;
  for (const entry of readdirSync("/proc")) {
    if (entry.charCodeAt(0) > 57) continue; // not a pid
    const fields = statFields(Number(entry));
    if (fields && Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") count++;
  }
  return count;
}

/** Whether any process of group `pgid` runs. */
function groupRuns(pgid: number): boolean {
  if (!signalOk(-pgid, 0)) return false;
  return !hasProc || liveMembers(pgid) > 0;
}

/**
 * Whether process group `pgid` still has members that belong to it. When its
 * leader runs, it must be the process that started at `start`; a leader that
 * exited keeps its group id reserved while members remain, so the group is
 * still the one recorded.
 */
export function groupAlive(pgid: number, start?: number): boolean {
  if (pgid <= 1 || !groupRuns(pgid)) return false;
  const leaderStart = processStart(pgid);
  return start === undefined || leaderStart === undefined || leaderStart === start;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * End process group `pgid`: SIGTERM, wait up to `graceMs` for it to go, then
 * SIGKILL and wait again. Returns how it ended.
 */
export async function stopGroup(
  pgid: number,
  options: { start?: number | undefined; graceMs?: number } = {},
): Promise<"gone" | "stopped" | "killed" | "survived"> {
  if (!groupAlive(pgid, options.start)) return "gone";
  signalOk(-pgid, "SIGTERM");
  const graceMs = options.graceMs ?? 10_000;
  for (let waited = 0; waited < graceMs; waited += 50) {
    await sleep(50);
    if (!groupRuns(pgid)) return "stopped";
  }
  signalOk(-pgid, "SIGKILL");
  for (let waited = 0; waited < 5000; waited += 50) {
    await sleep(50);
    if (!groupRuns(pgid)) return "killed";
  }
  return "survived";
}
