import { formatProblem, isKaupangError, redact } from "@kaupang/core";

export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** Set by a command that finished without throwing but must not exit 0 (e.g. drift). */
  exitCode?: number;
}

/**
 * Strip terminal control sequences from text that came from users or child
 * processes, and mask the secret values the run read.
 */
export function sanitize(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const masked = redact(text).replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, "");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  return masked.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
}

/** At most this many problems are printed; a count stands for the rest. */
const problemsShown = 20;

/** Print an error the way users should see it; returns the exit code. */
export function printError(io: Io, error: unknown, debug: boolean): number {
  if (isKaupangError(error)) {
    // Every problem on its own line (a typo's "unknown key" never hides behind another problem).
    const lines =
      error.problems.length > 1 ? error.problems.slice(0, problemsShown).map(formatProblem) : [error.message];
    for (const line of lines) io.stderr.write(`error: ${sanitize(line)}\n`);
    const more = error.problems.length - problemsShown;
    if (more > 0) io.stderr.write(`error: … and ${more} more problem${more === 1 ? "" : "s"}\n`);
    if (error.hint) io.stderr.write(`hint: ${sanitize(error.hint)}\n`);
    if (debug) {
      if (error.cause) io.stderr.write(`cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n`);
    }
    return error.exitCode;
  }
  const err = error as Error;
  io.stderr.write(`error: internal error: ${err?.message ?? String(error)}\n`);
  if (debug) io.stderr.write(`${err?.stack ?? ""}\n`);
  else io.stderr.write("hint: run again with --debug for the stack trace, and report it as a bug\n");
  return 1;
}
