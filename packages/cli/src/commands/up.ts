import { deployPlanned, planUp } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { formatPlan } from "../output/plan-text.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

interface UpFlags extends CommonOptions {
  resolve: boolean;
  from?: string;
}

export function registerUp(program: Command, io: Io): void {
  const command = program
    .command("up")
    .description("deploy an environment and everything it depends on")
    .argument("<env>", "environment to deploy")
    .option("--no-resolve", "deploy image references as written (local builds are pinned by image ID)")
    .option(
      "--from <file>",
      "deploy the digests of an earlier `up --output json` (promotion) instead of resolving",
    );
  addFlags(command, ["backend", "target", "pull", "dryRun", "output", "timeout", "quiet", "cwd"]);
  command.action(async (env: string, options: UpFlags) => {
    const planned = await planUp({
      cwd: options.cwd,
      environments: [env],
      target: options.target,
      backend: options.backend,
      pull: options.pull,
    });
    if (options.dryRun) {
      if (options.output === "json")
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...planned.plan }, null, 2)}\n`);
      else io.stdout.write(formatPlan(planned.plan));
      return;
    }
    const result = await deployPlanned(planned, {
      cwd: options.cwd,
      environments: [env],
      resolve: options.resolve,
      from: options.from,
      events: createReporter(io, { verbose: !options.quiet }),
      timeoutMs: options.timeout,
      kaupangVersion: version,
      command: `kaupang up ${env}`,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
