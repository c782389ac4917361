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

const hasProc = existsSync("/proc/self/stat");

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

/**
 * Processes whose environment holds `entry` ("NAME=value") exactly, other
 * than this process and its ancestors, with their process group and command
 * line (Linux only; empty elsewhere). Processes of other users that cannot
 * be read are passed over.
 */
export function processesTagged(entry: string): { pid: number; pgid: number; command: string }[] {
  if (!hasProc) return [];
  const mine = new Set<number>();
  for (let pid: number | undefined = process.pid; pid && pid > 1 && !mine.has(pid); ) {
    mine.add(pid);
    pid = Number(statFields(pid)?.[1]) || undefined;
  }
  const wanted = Buffer.from(`${entry}\0`);
  const found: { pid: number; pgid: number; command: string }[] = [];
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    const pid = Number(name);
    if (mine.has(pid)) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue;
    }
    const at = environ.indexOf(wanted);
    if (at === -1 || (at > 0 && environ[at - 1] !== 0)) continue;
    const fields = statFields(pid);
    if (!fields || fields[0] === "Z" || fields[0] === "X") continue;
    let command = "";
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
    } catch {
      // gone meanwhile
    }
    found.push({ pid, pgid: Number(fields[2]), command });
  }
  return found;
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

/** End one process (not its group): SIGTERM, up to `graceMs` for it to go, then SIGKILL. */
export async function stopProcess(
  pid: number,
  options: { start?: number | undefined; graceMs?: number } = {},
): Promise<"gone" | "stopped" | "killed" | "survived"> {
  if (!processAlive(pid, options.start)) return "gone";
  signalOk(pid, "SIGTERM");
  const graceMs = options.graceMs ?? 10_000;
  for (let waited = 0; waited < graceMs; waited += 50) {
    await sleep(50);
    if (!processAlive(pid, options.start)) return "stopped";
  }
  signalOk(pid, "SIGKILL");
  for (let waited = 0; waited < 5000; waited += 50) {
    await sleep(50);
    if (!processAlive(pid, options.start)) return "killed";
  }
  return "survived";
}
