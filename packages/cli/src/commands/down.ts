import { down, formatCommand, planDown } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerDown(program: Command, io: Io): void {
  const command = program
    .command("down")
    .description("tear an environment down (and, with --with-deps, what it depends on)")
    .argument("<env>", "environment to remove")
    .option("--with-deps", "also remove its dependencies, in reverse start order");
  addFlags(command, ["backend", "target", "hosts", "dryRun", "timeout", "quiet", "verbose", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { withDeps?: boolean }) => {
    const request = {
      cwd: options.cwd,
      environment: env,
      withDeps: options.withDeps,
      target: options.target,
      backend: options.backend,
      hosts: options.hosts,
    };
    if (options.dryRun) {
      const { plan, order, commands } = await planDown(request);
      const lines = [`Remove from target ${plan.target} (${plan.backend}), in this order:`];
      if (plan.targetSettings.hosts)
        lines.push(
          `  on each host in turn, with docker --host <host>: ${plan.targetSettings.hosts.join(", ")}`,
        );
      for (const name of order) {
        lines.push(`  ${name}`);
        for (const c of commands[name]!)
          lines.push(`    $ ${formatCommand(c.argv, c.env)}    # ${c.description}`);
      }
      io.stdout.write(`${lines.join("\n")}\n\nDry run: nothing was removed.\n`);
      return;
    }
    await down({
      ...request,
      events: createReporter(io, options),
      timeoutMs: options.timeout,
    });
  });
}
