import { build, formatCommand, planBuild } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerBuild(program: Command, io: Io): void {
  const command = program
    .command("build")
    .description("build the images of an environment's services that declare a build context")
    .argument("<env>", "environment whose images to build")
    .option("--push", "push the built images to their registry");
  addFlags(command, ["target", "dryRun", "quiet", "verbose", "cwd"]);
  command.action(async (env: string, options: CommonOptions & { push?: boolean }) => {
    const request = { cwd: options.cwd, environment: env, target: options.target, push: options.push };
    if (options.dryRun) {
      const plan = await planBuild(request);
      const lines = [`Build ${plan.environment}:`];
      for (const s of plan.services) lines.push(`  ${s.service}: ${s.context} → ${s.image}`);
      lines.push("", "Commands:");
      for (const c of plan.commands) lines.push(`  $ ${formatCommand(c.argv)}    # ${c.description}`);
      io.stdout.write(`${lines.join("\n")}\n\nDry run: nothing was built.\n`);
      return;
    }
    await build({ ...request, events: createReporter(io, options) });
  });
}
