import {
  type Change,
  currentRecord,
  type Deployment,
  deployments,
  formatCommand,
  hostsOf,
  type LedgerRecord,
  openLedgers,
  planRollback,
  recordChanges,
  rollbackChanges,
  rollbackHosts,
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
  addFlags(command, ["target", "hosts", "dryRun", "output", "timeout", "quiet", "verbose", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { to?: string; list?: boolean }) => {
    const where = { cwd: options.cwd, target: options.target, hosts: options.hosts };
    if (options.list) {
      // Each host's deploys with what each changed against that host's earlier ones.
      const rows: { record: Deployment; changes: Change[] | undefined }[] = [];
      for (const opened of await openLedgers({ ...where, environment: env })) {
        const history = deployments(opened.records, opened.running);
        const changes = await recordChanges(opened.ledger, history);
        rows.push(...history.map((record, i) => ({ record, changes: changes[i] })));
      }
      rows.sort((a, b) => a.record.at.localeCompare(b.record.at));
      const records = rows.map((r) => r.record);
      if (options.output === "json") {
        const json = rows.map((r) => ({ ...r.record, ...(r.changes ? { changes: r.changes } : {}) }));
        io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else io.stdout.write(formatHistory(records, { changes: rows.map((r) => r.changes) }));
      return;
    }
    const request = { cwd: options.cwd, environment: env, target: options.target, to: options.to };
    if (options.dryRun) {
      const lines: string[] = [];
      for (const host of await hostsOf(where)) {
        const { record, unit, context } = await planRollback({ ...request, host });
        const changes = await rollbackChanges(context.records, context.ledger, unit);
        lines.push(
          `Roll ${env}@${context.target}${host ? ` on ${host}` : ""} back to ${record.id} (${record.action} of ${record.at}):`,
          ...unit.environment.images.map(
            (i) => `  ${i.service}: ${i.ref}${i.digest ? ` @ ${i.digest}` : ""}`,
          ),
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
