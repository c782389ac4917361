/**
 * Ctrl-C and SIGTERM, as the core sees them. The CLI calls `interrupt(signal)`
 * once; from then on no new process starts, waits end early, and whatever was
 * running fails with an ERR_INTERRUPTED error whose exit code is the signal's
 * (130 for SIGINT, 143 for SIGTERM). A deploy in flight records `interrupted`.
 */
import { KaupangError } from "./errors.js";

let received: NodeJS.Signals | undefined;
const listeners = new Set<(signal: NodeJS.Signals) => void>();

/** The exit code for a signal: 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGHUP" ? 129 : 143;
}

/** Mark the run as interrupted by `signal` (the first signal counts) and tell every listener. */
export function interrupt(signal: NodeJS.Signals): void {
  if (received) return;
  received = signal;
  for (const listener of [...listeners]) listener(signal);
}

/** The signal the run was interrupted by, if it was. */
export function interruptedBy(): NodeJS.Signals | undefined {
  return received;
}

/** Call `listener` when the run is interrupted (at once if it already was); returns the unsubscribe. */
export function onInterrupt(listener: (signal: NodeJS.Signals) => void): () => void {
  if (received) {
    listener(received);
    return () => {};
  }
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The error for work stopped by the interrupt: "interrupted (SIGINT) while <doing>". */
export function interruptedError(doing?: string): KaupangError {
  const signal = received ?? "SIGINT";
  return new KaupangError("ERR_INTERRUPTED", `interrupted (${signal})${doing ? ` ${doing}` : ""}`, {
    exitCode: signalExitCode(signal),
  });
}

/** Forget an interrupt (tests run many in one process). */
export function resetInterrupt(): void {
  received = undefined;
  listeners.clear();
}
