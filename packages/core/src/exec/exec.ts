/**
 * The only place kaupang starts a process. Commands are argv arrays, never a
 * shell string, except `runShell` for hooks and `run:` steps, which are shell
 * commands by definition. Every child is tracked so Ctrl-C stops them.
 *
 * Built on node:child_process directly: what kaupang needs of a process
 * layer (argv, output captured and streamed line by line, a timeout that
 * escalates to SIGKILL, process groups, children stopped when kaupang
 * exits) is this file, and it loads in ~3 ms where execa took ~27 ms, on
 * the path of every deploy.
 *
 * Every child whose output kaupang captures starts in a process group of its
 * own, so stopping it reaches whatever it started (a hook's background jobs,
 * compose's plugins), and the groups of running children are published
 * (`childGroups`, `onChildrenChange`) for the deploy lock to record: a
 * later run that finds this one killed ends them before it applies.
 * Secret values registered with base/redact never appear in output events,
 * captured output or errors.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { interruptedBy, interruptedError } from "../base/interrupt.js";
import { redact } from "../base/redact.js";
import { directCompose } from "./compose-plugin.js";
import { formatCommand } from "./format.js";
import { processStart } from "./processes.js";

interface ExecOptions {
  cwd?: string;
  /** Added to (and overriding) the inherited environment. */
  env?: Record<string, string | undefined>;
  input?: string;
  /** Report each output line as an event (progress); output is buffered as well. */
  events?: EventSink;
  /** Event scope (environment or step name). */
  scope?: string;
  timeoutMs?: number;
  /**
   * Start the child in its own process group, so a stop reaches its children.
   * Default: yes, unless it is given the terminal (`inherit`).
   */
  detached?: boolean;
  /** Don't announce the command as an event (internal polling). */
  quiet?: boolean;
  /** Variables shown before the command in its display form (e.g. KUBECONFIG). */
  displayEnv?: Record<string, string>;
  /** Give the child this terminal (ps, logs -f): its output is not captured. */
  inherit?: boolean;
  /**
   * kaupang's own bookkeeping (kubectl --raw for state on the target, a
   * credential plugin), not a step of the deploy: not recorded in the deploy
   * lock, and it may still start after Ctrl-C (the run records its outcome).
   */
  bookkeeping?: boolean;
  /** Stop the child (SIGTERM) when this aborts; it then ends like a stopped command. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Display form of the command. */
  command: string;
  /** The signal that ended the process, if one did. */
  signal?: string;
  durationMs: number;
  timedOut: boolean;
}

const running = new Set<ChildProcess>();
/** Set once kaupang is stopping (Ctrl-C): no new process may start after that. */
let stopping = false;

/** A running child's process group, as the deploy lock records it. */
interface ChildGroup {
  pgid: number;
  /** Its leader's start time (clock ticks since boot; Linux), to tell it from a later process with its id. */
  start?: number;
  /** What runs, in display form (never with secret values). */
  command: string;
}
const groups = new Map<ChildProcess, ChildGroup>();
const changeListeners = new Set<() => void>();

/**
 * Every child carries `KAUPANG_RUN=<pid>.<start>` of the kaupang that started
 * it (and passes it on to what it starts). A kill can land between a child's
 * start and the lock recording its group; a later run that takes the lock over
 * finds such children by this tag (see `processesTagged`).
 */
export const runTagVariable = "KAUPANG_RUN";

/** The tag of a kaupang process: its pid and start time; undefined where the start time is unknown. */
export function runTag(pid: number, start: number | undefined): string | undefined {
  return start === undefined ? undefined : `${pid}.${start}`;
}
let ownTag: string | undefined | null = null;
function myTag(): string | undefined {
  if (ownTag === null) ownTag = runTag(process.pid, processStart(process.pid));
  return ownTag;
}

const tagEnv = (): Record<string, string> => {
  const tag = myTag();
  return tag ? { [runTagVariable]: tag } : {};
};

/** How many children run now. */
export function runningChildCount(): number {
  return running.size;
}

/** Process groups of the children running now. */
export function childGroups(): ChildGroup[] {
  return [...groups.values()];
}

/** Call `listener` whenever a child with its own process group starts. Returns the unsubscribe. */
export function onChildrenChange(listener: () => void): () => void {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}

/** Send `signal` to a child, and to its process group when it leads one. */
function signalChild(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    child.kill(signal); // the group is gone already
  }
}

const grouped = new WeakSet<ChildProcess>();
let exitHookInstalled = false;

/** Stop every running child: SIGTERM, then SIGKILL after `graceMs`. New children are refused from now on. */
export async function stopAllChildren(graceMs = 5000): Promise<void> {
  stopping = true;
  if (running.size === 0) return;
  const children = [...running];
  const closed = children.map(
    (child) =>
      new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once("close", resolve))),
  );
  for (const child of children) signalChild(child, "SIGTERM", grouped.has(child));
  await Promise.race([
    Promise.allSettled(closed),
    new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
  ]);
  for (const child of running) signalChild(child, "SIGKILL", grouped.has(child));
}

const toolHints: Record<string, string> = {
  docker: "install Docker (the engine client) and make sure `docker` is on PATH",
  kubectl: "install kubectl and make sure it is on PATH",
  oras: "install oras (https://oras.land) and make sure it is on PATH",
};

/** Output larger than this is cut (kept from the start); no command kaupang runs comes close. */
const maxBuffer = 64 * 1024 * 1024;
/** After a timeout's SIGTERM, SIGKILL this much later. */
const forceKillAfterMs = 5000;

/** Collect a stream as text and, when `onLine` is given, report each line as it completes. */
function collect(stream: NodeJS.ReadableStream | null, onLine?: (line: string) => void): () => string {
  if (!stream) return () => "";
  let text = "";
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    if (text.length < maxBuffer) text += chunk;
    if (!onLine) return;
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      onLine(redact(pending.slice(0, newline).replace(/\r$/, "")));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf("\n");
    }
  });
  stream.on("end", () => {
    if (onLine && pending) onLine(redact(pending.replace(/\r$/, "")));
    pending = "";
  });
  // The child's output without its final newline, as a command substitution would give it.
  return () => redact(text.replace(/\r?\n$/, ""));
}

async function start(
  file: string,
  args: string[],
  options: ExecOptions,
  shell: boolean,
): Promise<ExecResult> {
  if ((stopping || interruptedBy()) && !options.bookkeeping)
    throw interruptedError("before it ran a command");
  const command = redact(shell ? args[0]! : formatCommand([file, ...args], options.displayEnv));
  // A quiet command (a look-up) is still reported, marked as detail: shown with --verbose.
  const detail = options.quiet ? { detail: true } : {};
  options.events?.({ type: "command", scope: options.scope, command, ...detail });
  const began = Date.now();
  const [program, programArgs] = shell ? ["/bin/sh", ["-c", args[0]!]] : directCompose(file, args);
  const streamLines = options.events && !options.inherit;
  const detached = options.detached ?? !options.inherit;
  const child = spawn(program, programArgs, {
    cwd: options.cwd,
    // undefined values unset a variable (node leaves them out of the child's environment)
    env: { ...process.env, ...options.env, ...tagEnv() },
    stdio: [
      options.inherit ? "inherit" : options.input === undefined ? "ignore" : "pipe",
      options.inherit ? "inherit" : "pipe",
      options.inherit ? "inherit" : "pipe",
    ],
    detached,
  });
  running.add(child);
  if (detached) grouped.add(child);
  if (detached && child.pid !== undefined && !options.bookkeeping) {
    const start = processStart(child.pid);
    groups.set(child, { pgid: child.pid, ...(start !== undefined ? { start } : {}), command });
    for (const listener of changeListeners) listener();
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Like a terminal closing: children still running when kaupang exits are stopped.
    process.once("exit", () => {
      for (const c of running) signalChild(c, "SIGTERM", grouped.has(c));
    });
  }
  const line = (stream: "stdout" | "stderr") => (text: string) =>
    options.events?.({ type: "output", scope: options.scope, stream, line: text, ...detail });
  const stdout = collect(child.stdout, streamLines ? line("stdout") : undefined);
  const stderr = collect(child.stderr, streamLines ? line("stderr") : undefined);
  if (child.stdin) {
    child.stdin.on("error", () => {}); // a child that exits without reading its input
    child.stdin.end(options.input);
  }
  let timedOut = false;
  let forceKill: NodeJS.Timeout | undefined;
  const timer =
    options.timeoutMs !== undefined && options.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          signalChild(child, "SIGTERM", detached);
          forceKill = setTimeout(() => signalChild(child, "SIGKILL", detached), forceKillAfterMs);
          forceKill.unref();
        }, options.timeoutMs)
      : undefined;
  const stop = () => signalChild(child, "SIGTERM", detached);
  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) stop();
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
      (resolve, reject) => {
        child.once("error", reject);
        child.once("close", (code, signal) => resolve({ code, signal }));
      },
    );
    return {
      ...(signal ? { signal } : {}),
      exitCode: code ?? (timedOut ? 124 : 1),
      stdout: stdout(),
      stderr: stderr(),
      command,
      durationMs: Date.now() - began,
      timedOut,
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && !shell) {
      throw new KaupangError("ERR_TOOL_NOT_FOUND", `\`${file}\` not found on PATH`, {
        ...(toolHints[file] ? { hint: toolHints[file] } : {}),
      });
    }
    throw new KaupangError("ERR_COMMAND_FAILED", `${command}: ${redact((error as Error).message)}`);
  } finally {
    options.signal?.removeEventListener("abort", stop);
    if (timer) clearTimeout(timer);
    if (forceKill) clearTimeout(forceKill);
    running.delete(child);
    groups.delete(child);
  }
}

/** Run argv; resolves with the exit code and output (never rejects on a non-zero exit). */
export function exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error("exec: empty argv");
  return start(file, args, options, false);
}

/** Run a shell command line (hooks, `run:` steps). */
export function runShell(commandLine: string, options: ExecOptions = {}): Promise<ExecResult> {
  return start("/bin/sh", [commandLine], options, true);
}

/** A long-lived child kaupang talks to over its stdin and stdout (an API connection), and what it said on stderr. */
interface Channel {
  child: ChildProcess;
  stderr: () => string;
  /** Whether the channel keeps kaupang running: yes while a request is in flight, no while it is idle. */
  hold(held: boolean): void;
}

const channels = new Set<ChildProcess>();

/**
 * Start a child that carries a connection (`docker system dial-stdio`): not a
 * step of the deploy, so it is neither published for the lock nor stopped by
 * Ctrl-C (the run still records its outcome through it); it ends when kaupang
 * exits (its stdin closes), and never keeps kaupang running.
 */
export function openChannel(
  argv: readonly string[],
  options: { env?: Record<string, string> } = {},
): Channel {
  const [file, ...args] = argv;
  if (!file) throw new Error("openChannel: empty argv");
  const child = spawn(file, args, {
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  channels.add(child);
  child.once("close", () => channels.delete(child));
  if (channels.size === 1)
    process.once("exit", () => {
      for (const c of channels) c.kill("SIGTERM");
    });
  const stderr = collect(child.stderr);
  const handles = [child, child.stdin, child.stdout, child.stderr] as unknown as ({
    ref?: () => void;
    unref?: () => void;
  } | null)[];
  return {
    child,
    stderr,
    hold(held) {
      for (const handle of handles) (held ? handle?.ref : handle?.unref)?.call(handle);
    },
  };
}

/** A child's output as its non-empty lines, trimmed (IDs, names, one per line). */
export function outputLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The last non-empty lines of a child's output, for error messages. */
export function tail(text: string, lines = 1): string {
  return outputLines(text).slice(-lines).join(" | ");
}

/** Run argv and throw a KaupangError naming `what` and the command's last error line on failure. */
export async function execOk(
  argv: readonly string[],
  what: string,
  options: ExecOptions = {},
): Promise<ExecResult> {
  const result = await exec(argv, options);
  if (result.exitCode !== 0) {
    const reason = result.timedOut
      ? "timed out"
      : tail(result.stderr) || tail(result.stdout) || `exit code ${result.exitCode}`;
    throw new KaupangError("ERR_COMMAND_FAILED", `${what} failed: ${reason}`, {
      hint: `command: ${result.command}`,
    });
  }
  return result;
}
