import { formatCommand, hostsOf, openLedgers, planRollback, rollbackHosts } from "@kaupang/core";
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
  addFlags(command, ["target", "hosts", "dryRun", "output", "timeout", "quiet", "verbose", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { to?: string; list?: boolean }) => {
    const where = { cwd: options.cwd, target: options.target, hosts: options.hosts };
    if (options.list) {
      const records = (await openLedgers({ ...where, environment: env }))
        .flatMap((c) => c.records)
        .sort((a, b) => a.at.localeCompare(b.at));
      if (options.output === "json") io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
      else io.stdout.write(formatHistory(records));
      return;
    }
    const request = { cwd: options.cwd, environment: env, target: options.target, to: options.to };
    if (options.dryRun) {
      const lines: string[] = [];
      for (const host of await hostsOf(where)) {
        const { record, unit, context } = await planRollback({ ...request, host });
        lines.push(
          `Roll ${env}@${context.target}${host ? ` on ${host}` : ""} back to ${record.id} (${record.action} of ${record.at}):`,
          ...unit.environment.images.map(
            (i) => `  ${i.service}: ${i.ref}${i.digest ? ` @ ${i.digest}` : ""}`,
          ),
          "",
          `Replays ${unit.environment.artifact.path} through ${unit.backend}:`,
          ...unit.environment.commands.map(
            (c) => `  $ ${formatCommand(c.argv, c.env)}    # ${c.description}`,
          ),
          "",
        );
      }
      io.stdout.write(`${lines.join("\n")}Dry run: nothing was changed.\n`);
      return;
    }
    const results = await rollbackHosts({
      hosts: options.hosts,
      ...request,
      events: createReporter(io, options),
      timeoutMs: options.timeout,
      kaupangVersion: version,
      command: `kaupang rollback ${env}`,
    });
    // A target without hosts: the one rollback, as before; with hosts, one per host.
    const result = results.length === 1 && results[0]!.host === undefined ? results[0] : results;
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
