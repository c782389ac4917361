import type { KaupangEvent } from "@kaupang/core";
import { type Io, sanitize } from "./io.js";

/**
 * Progress on stderr, append-only (the same on a terminal and in CI logs), so
 * stdout stays clean for --output json. Child output is prefixed with its
 * environment or step so parallel work stays readable.
 */
export function createReporter(
  io: Io,
  options: { quiet?: boolean | undefined; verbose?: boolean | undefined } = {},
) {
  const color = io.stderr.isTTY === true && !process.env.NO_COLOR;
  const dim = (t: string) => (color ? `\u001b[2m${t}\u001b[22m` : t);
  const bold = (t: string) => (color ? `\u001b[1m${t}\u001b[22m` : t);
  const yellow = (t: string) => (color ? `\u001b[33m${t}\u001b[39m` : t);
  const green = (t: string) => (color ? `\u001b[32m${t}\u001b[39m` : t);
  return (event: KaupangEvent): void => {
    const scope = event.scope ? `${event.scope}: ` : "";
    // Look-ups kaupang makes on its own (inspect, ls) are shown in full only with --verbose.
    if ((event.type === "command" || event.type === "output") && event.detail && !options.verbose) return;
    switch (event.type) {
      case "stage":
        io.stderr.write(`${bold("▸")} ${scope}${sanitize(event.message)}\n`);
        break;
      case "command":
        io.stderr.write(dim(`  ${event.scope ? `${event.scope} │ ` : ""}$ ${sanitize(event.command)}\n`));
        break;
      case "output":
        if (!options.quiet || options.verbose)
          io.stderr.write(dim(`  ${event.scope ? `${event.scope} │ ` : "│ "}${sanitize(event.line)}\n`));
        break;
      case "warning":
        io.stderr.write(`${yellow("!")} ${scope}${sanitize(event.message)}\n`);
        break;
      case "done":
        io.stderr.write(
          `${green("✔")} ${scope}${sanitize(event.message)} ${dim(`(${(event.durationMs / 1000).toFixed(1)}s)`)}\n`,
        );
        break;
    }
  };
}
