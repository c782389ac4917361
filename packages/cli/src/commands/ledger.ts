import { verifyLedgers } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerLedger(program: Command, io: Io): void {
  const ledger = program.command("ledger").description("inspect the deploy ledger");
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
        `${c.environment}@${c.target}: ${c.records} record${c.records === 1 ? "" : "s"}, chain intact${anchor}${torn}\n`,
      );
    }
  });
}
