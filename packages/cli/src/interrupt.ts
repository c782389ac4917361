/**
 * Ctrl-C / SIGTERM handling. By default kaupang stops the tools it started and
 * exits (130 / 143). A command that can wind down cleanly (a pipeline prints
 * its summary) opts in with `handleInterrupts()` and watches `interrupted`.
 * A second signal always exits at once.
 */
import { stopAllChildren } from "@kaupang/core";

const controller = new AbortController();
export const interrupted: AbortSignal = controller.signal;
let graceful = false;
let received: NodeJS.Signals | undefined;

/** The exit code for the signal that stopped a graceful command: 130 (SIGINT), 143 (SIGTERM). */
export function interruptExitCode(): number {
  return received === "SIGTERM" ? 143 : 130;
}

export function handleInterrupts(): void {
  graceful = true;
}

export function installSignalHandlers(write: (text: string) => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signal === "SIGINT" ? 130 : 143;
    received ??= signal;
    if (controller.signal.aborted) process.exit(code);
    write(`\nkaupang: ${signal}, stopping running commands…\n`);
    controller.abort();
    void stopAllChildren().finally(() => {
      if (!graceful) process.exit(code);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
