import { applyPlan, planUp } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { formatPlan } from "../output/plan-text.js";
import { createReporter } from "../output/reporter.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerUp(program: Command, io: Io): void {
  const command = program
    .command("up")
    .description("deploy an environment and everything it depends on")
    .argument("<env>", "environment to deploy");
  addFlags(command, ["backend", "target", "pull", "dryRun", "output", "timeout", "quiet", "cwd"]);
  command.action(async (env: string, options: CommonOptions) => {
    const { plan } = await planUp({
      cwd: options.cwd,
      environments: [env],
      target: options.target,
      backend: options.backend,
      pull: options.pull,
    });
    if (options.dryRun) {
      if (options.output === "json")
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...plan }, null, 2)}\n`);
      else io.stdout.write(formatPlan(plan));
      return;
    }
    const result = await applyPlan(plan, {
      events: createReporter(io, { verbose: !options.quiet }),
      timeoutMs: options.timeout,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
