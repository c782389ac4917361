import {
  currentRecord,
  deployments,
  formatCommand,
  type LedgerRecord,
  openLedger,
  planRollback,
  recordChanges,
  rollback,
  rollbackChanges,
} from "@kaupang/core";
import type { Command } from "commander";
import { formatHistory } from "../output/history.js";
import type { Io } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

const current = (records: readonly LedgerRecord[]) => {
  const record = currentRecord(records);
  return record ? ` (${record.id})` : " (none: nothing runs)";
};

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
      const { ledger, records, running } = await openLedger({
        cwd: options.cwd,
        environment: env,
        target: options.target,
      });
      const history = deployments(records, running);
      const changes = await recordChanges(ledger, history);
      if (options.output === "json") {
        const rows = history.map((r, i) => ({ ...r, ...(changes[i] ? { changes: changes[i] } : {}) }));
        io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      } else io.stdout.write(formatHistory(history, { changes }));
      return;
    }
    const request = { cwd: options.cwd, environment: env, target: options.target, to: options.to };
    if (options.dryRun) {
      const { record, unit, context } = await planRollback(request);
      const changes = await rollbackChanges(context.records, context.ledger, unit);
      const lines = [
        `Roll ${env}@${context.target} back to ${record.id} (${record.action} of ${record.at}):`,
        ...unit.environment.images.map((i) => `  ${i.service}: ${i.ref}${i.digest ? ` @ ${i.digest}` : ""}`),
        "",
        `Changes against the current deploy${current(context.records)}:`,
        ...(changes.length === 0
          ? ["  none (the same images, env, ports, replicas and commands)"]
          : changes.map(
              (c) =>
                `  ${c.kind === "added" ? "+" : c.kind === "removed" ? "-" : "~"} ${c.service}: ${c.detail}`,
            )),
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
