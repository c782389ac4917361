import { formatCommand, openLedger, planRollback, rollback } from "@kaupang/core";
import type { Command } from "commander";
import { formatHistory } from "../output/history.js";
import type { Io } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerRollback(program: Command, io: Io): void {
  const command = program
    .command("rollback")
    .description("re-apply the previous good deployment (or --to one) from the ledger")
    .argument("<env>", "environment to roll back")
    .option("--to <id>", "deployment id to return to")
    .option("--list", "show the deployment history with digests");
  addFlags(command, ["target", "dryRun", "output", "timeout", "quiet", "verbose", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { to?: string; list?: boolean }) => {
    if (options.list) {
      const { records } = await openLedger({ cwd: options.cwd, environment: env, target: options.target });
      if (options.output === "json") io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
      else io.stdout.write(formatHistory(records));
      return;
    }
    const request = { cwd: options.cwd, environment: env, target: options.target, to: options.to };
    if (options.dryRun) {
      const { record, unit, context } = await planRollback(request);
      const lines = [
        `Roll ${env}@${context.target} back to ${record.id} (${record.action} of ${record.at}):`,
        ...unit.environment.images.map((i) => `  ${i.service}: ${i.ref}${i.digest ? ` @ ${i.digest}` : ""}`),
        "",
        `Replays ${unit.environment.artifact.path} through ${unit.backend}:`,
        ...unit.environment.commands.map((c) => `  $ ${formatCommand(c.argv, c.env)}    # ${c.description}`),
        "",
        "Dry run: nothing was changed.",
        "",
      ];
      io.stdout.write(lines.join("\n"));
      return;
    }
    const result = await rollback({
      ...request,
      events: createReporter(io, options),
      timeoutMs: options.timeout,
      kaupangVersion: version,
      command: `kaupang rollback ${env}`,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
