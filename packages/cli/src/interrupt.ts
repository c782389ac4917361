/**
 * Ctrl-C / SIGTERM. The first signal tells the core (no new process starts,
 * waits end, a deploy in flight records `interrupted`), stops the tools
 * kaupang started (SIGTERM to their process groups, SIGKILL after a grace
 * period), and lets the command unwind: it fails with a one-line error and
 * kaupang exits 130 (SIGINT) or 143 (SIGTERM). Should it not unwind within a
 * few seconds, the deploys still in flight are recorded as interrupted and
 * kaupang exits anyway. A second signal exits at once.
 */
import {
  interrupt,
  interruptedBy,
  recordInterrupted,
  runningChildCount,
  signalExitCode,
  stopAllChildren,
} from "@kaupang/core";

const controller = new AbortController();
/** Aborted on the first Ctrl-C or SIGTERM (a pipeline stops starting steps; studio closes). */
export const interrupted: AbortSignal = controller.signal;

/** The exit code for the signal that stopped a command: 130 (SIGINT), 143 (SIGTERM). */
export function interruptExitCode(): number {
  return signalExitCode(interruptedBy() ?? "SIGINT");
}

/** How long the command may take to unwind after its children stopped. */
const unwindMs = 2500;

export function installSignalHandlers(write: (text: string) => void): () => void {
  let watchdog: NodeJS.Timeout | undefined;
  let done = false;
  const onSignal = (signal: NodeJS.Signals) => {
    const code = signalExitCode(signal);
    if (controller.signal.aborted) {
      write(`\nkaupang: ${signal} again: exiting now\n`);
      process.exit(code);
    }
    const children = runningChildCount();
    if (children > 0)
      write(`\nkaupang: ${signal}: stopping ${children} running command${children === 1 ? "" : "s"}…\n`);
    interrupt(signal);
    controller.abort();
    void stopAllChildren().finally(() => {
      if (done) return;
      watchdog = setTimeout(() => {
        void recordInterrupted(`interrupted (${signal}): kaupang exited before the deploy unwound`).finally(
          () => {
            write(`error: interrupted (${signal})\n`);
            process.exit(code);
          },
        );
      }, unwindMs);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    // The command finished (or failed) by itself: nothing left to force.
    done = true;
    if (watchdog) clearTimeout(watchdog);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}
