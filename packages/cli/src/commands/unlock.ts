import { describeHolder, unlock } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { sanitize } from "../output/io.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerUnlock(program: Command, io: Io): void {
  const command = program
    .command("unlock")
    .description(
      "clear the deploy lock of an environment whose holder is gone, on another host or unreadable (shows who held it)",
    )
    .argument("<env>", "environment whose lock to clear")
    .option("--force", "also clear a lock held by a process that still runs on this host (it keeps running)");
  addFlags(command, ["target", "output", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { force?: boolean }) => {
    const results = await unlock({
      cwd: options.cwd,
      environment: env,
      target: options.target,
      force: options.force,
      kaupangVersion: version,
    });
    if (options.output === "json") {
      // One lock, or with state on the target of a target with hosts, one per host.
      io.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
      return;
    }
    const lines: string[] = [];
    for (const result of results) {
      const scope = `${result.environment}@${result.target}${result.host ? ` on ${result.host}` : ""}`;
      if (result.state === "none") {
        lines.push(`${scope} is not locked.`);
        continue;
      }
      const who = result.holder
        ? describeHolder(result.holder)
        : `an unreadable lock (${JSON.stringify((result.text ?? "").slice(0, 60))})`;
      const why = {
        gone: "which is gone",
        "other-host": "on another host; kaupang cannot see whether it still runs",
        unreadable: "",
        live: "which is STILL RUNNING (--force): it was not stopped",
        none: "",
      }[result.state];
      lines.push(`${scope} was locked by ${who}${why ? `, ${why}` : ""}.`);
      for (const line of result.stopped) lines.push(`  ended what it left running: ${line}`);
      for (const id of result.closed) lines.push(`  deploy ${id} had no outcome: recorded as interrupted`);
      lines.push(result.removed ? "Lock removed." : "The lock had already changed; nothing was removed.");
    }
    io.stdout.write(`${sanitize(lines.join("\n"))}\n`);
  });
}
