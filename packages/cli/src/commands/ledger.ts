import { exportLedger, importLedger, verifyLedgers } from "@kaupang/core";
import { type Command, Option } from "commander";
import type { Io } from "../output/io.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

const stateFlag = () =>
  new Option(
    "--state <where>",
    "read or write local files or the target itself, instead of where the target's `state` setting says",
  ).choices(["local", "target"]);

export function registerLedger(program: Command, io: Io): void {
  const ledger = program
    .command("ledger")
    .description("check the deploy ledger, or move a history between local files and the target");
  const verify = ledger
    .command("verify")
    .description("check the ledger's hash chain; names the first broken record")
    .argument("[env]", "one environment (default: all)");
  addFlags(verify, ["target", "output", "cwd"]);
  verify.action(async (env: string | undefined, options: CommonOptions) => {
    const checks = await verifyLedgers({ cwd: options.cwd, environment: env, target: options.target });
    if (options.output === "json") {
      io.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
      return;
    }
    if (checks.length === 0) io.stdout.write("No ledger to verify.\n");
    for (const c of checks) {
      const torn = c.tornTail
        ? " (a torn final line from an interrupted write is ignored; the next record keeps it aside)"
        : "";
      const anchor = c.anchor === "ok" ? ", head anchor matches" : ", no head anchor yet";
      io.stdout.write(
        `${c.environment}@${c.target}${c.host ? ` on ${c.host}` : ""}: ${c.records} record${c.records === 1 ? "" : "s"}, chain intact${anchor}${torn}\n`,
      );
    }
  });

  const exportCommand = ledger
    .command("export")
    .description(
      "write an environment's history (every record, byte for byte, and the units they name) to a file",
    )
    .argument("<env>", "environment")
    .requiredOption("-o, --out <file>", "where to write it");
  exportCommand.addOption(stateFlag());
  addFlags(exportCommand, ["target", "output", "cwd"]);
  exportCommand.action(
    async (env: string, options: CommonOptions & { out: string; state?: "local" | "target" }) => {
      const { export: exported, from } = await exportLedger({
        cwd: options.cwd,
        environment: env,
        target: options.target,
        state: options.state,
        out: options.out,
      });
      const summary = {
        environment: exported.environment,
        target: exported.target,
        from,
        file: options.out,
        records: exported.records.length,
        units: Object.keys(exported.units).length,
      };
      if (options.output === "json") io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else
        io.stdout.write(
          `${summary.environment}@${summary.target}: ${summary.records} record${summary.records === 1 ? "" : "s"} and ${summary.units} unit${summary.units === 1 ? "" : "s"} from ${from} written to ${options.out} (chain verified)\n`,
        );
    },
  );

  const importCommand = ledger
    .command("import")
    .description(
      "append a history written by `ledger export` to the ledger of its environment (an empty one, or one it continues)",
    )
    .argument("<file>", "the export")
    .option("--target <name>", "target whose ledger receives it (default: the one it was exported from)");
  importCommand.addOption(stateFlag());
  addFlags(importCommand, ["output", "cwd"]);
  importCommand.action(async (file: string, options: CommonOptions & { state?: "local" | "target" }) => {
    const result = await importLedger({
      cwd: options.cwd,
      file,
      target: options.target,
      state: options.state,
      kaupangVersion: version,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else
      io.stdout.write(
        `${result.environment}@${result.target}: imported ${result.imported} record${result.imported === 1 ? "" : "s"} into ${result.to}${result.present > 0 ? ` (it had the first ${result.present} already)` : ""}; chain verified\n`,
      );
  });
}
