/**
 * The only place kaupang starts a process. Commands are argv arrays, never a
 * shell string, except `runShell` for hooks and `run:` steps, which are shell
 * commands by definition. Every child is tracked so Ctrl-C stops them.
 */
import type { ResultPromise } from "execa";
import { KaupangError } from "../errors.js";
import type { EventSink } from "../events.js";
import { directCompose } from "./compose-plugin.js";
import { formatCommand } from "./format.js";

export interface ExecOptions {
  cwd?: string;
  /** Added to (and overriding) the inherited environment. */
  env?: Record<string, string | undefined>;
  input?: string;
  /** Report each output line as an event (progress); output is buffered as well. */
  events?: EventSink;
  /** Event scope (environment or step name). */
  scope?: string;
  timeoutMs?: number;
  /** Start the child in its own process group (so a stop reaches its children). */
  detached?: boolean;
  /** Don't announce the command as an event (internal polling). */
  quiet?: boolean;
  /** Variables shown before the command in its display form (e.g. KUBECONFIG). */
  displayEnv?: Record<string, string>;
  /** Give the child this terminal (ps, logs -f): its output is not captured. */
  inherit?: boolean;
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

const running = new Set<ResultPromise>();
/** Set once kaupang is stopping (Ctrl-C): no new process may start after that. */
let stopping = false;

/** Stop every running child: SIGTERM, then SIGKILL after `graceMs`. New children are refused from now on. */
export async function stopAllChildren(graceMs = 5000): Promise<void> {
  stopping = true;
  const children = [...running];
  for (const child of children) {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
    } catch {
      child.kill("SIGTERM");
    }
  }
  await Promise.race([
    Promise.allSettled(children),
    new Promise((resolve) => setTimeout(resolve, graceMs).unref()),
  ]);
  for (const child of running) child.kill("SIGKILL");
}

export const toolHints: Record<string, string> = {
  docker: "install Docker (the engine client) and make sure `docker` is on PATH",
  kubectl: "install kubectl and make sure it is on PATH",
  oras: "install oras (https://oras.land) and make sure it is on PATH",
};

async function start(
  file: string,
  args: string[],
  options: ExecOptions,
  shell: boolean,
): Promise<ExecResult> {
  const { execa } = await import("execa");
  if (stopping) throw new KaupangError("ERR_INTERRUPTED", "interrupted: not starting new commands");
  const command = shell ? args[0]! : formatCommand([file, ...args], options.displayEnv);
  if (!options.quiet) options.events?.({ type: "command", scope: options.scope, command });
  const began = Date.now();
  const lineHandler = (stream: "stdout" | "stderr") =>
    function* (line: unknown) {
      options.events?.({ type: "output", scope: options.scope, stream, line: String(line) });
      yield line;
    };
  const [program, programArgs] = shell ? [args[0]!, []] : directCompose(file, args);
  const child = execa(program, programArgs, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    input: options.input,
    stdin: options.inherit ? "inherit" : options.input === undefined ? "ignore" : "pipe",
    reject: false,
    shell: shell ? "/bin/sh" : false,
    timeout: options.timeoutMs,
    detached: options.detached ?? false,
    cleanup: true,
    forceKillAfterDelay: 5000,
    stripFinalNewline: true,
    maxBuffer: 64 * 1024 * 1024,
    ...(options.inherit
      ? { stdout: "inherit" as const, stderr: "inherit" as const }
      : options.events && !options.quiet
        ? { stdout: [lineHandler("stdout")], stderr: [lineHandler("stderr")] }
        : {}),
  });
  running.add(child);
  try {
    const result = await child;
    const errno = (result as { code?: string }).code;
    if (errno === "ENOENT" && !shell) {
      throw new KaupangError("ERR_TOOL_NOT_FOUND", `\`${file}\` not found on PATH`, {
        ...(toolHints[file] ? { hint: toolHints[file] } : {}),
      });
    }
    return {
      ...(result.signal ? { signal: result.signal } : {}),
      exitCode: result.exitCode ?? (result.timedOut ? 124 : 1),
      stdout: String(result.stdout ?? ""),
      stderr: String(result.stderr ?? ""),
      command,
      durationMs: Date.now() - began,
      timedOut: result.timedOut === true,
    };
  } finally {
    running.delete(child);
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

/** The last non-empty lines of a child's output, for error messages. */
export function tail(text: string, lines = 1): string {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .join(" | ");
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
