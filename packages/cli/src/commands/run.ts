import { planRun } from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { formatPipelinePlan } from "../output/plan-text.js";
import { addFlags, type CommonOptions } from "./options.js";

export function registerRun(program: Command, io: Io): void {
  const command = program
    .command("run")
    .description("run a pipeline: a DAG of run / up / down / build / wait steps")
    .argument("<pipeline>", "pipeline name from the config");
  addFlags(command, ["target", "dryRun", "output", "cwd"]);
  command.action(async (pipeline: string, options: CommonOptions) => {
    const plan = await planRun({ cwd: options.cwd, pipeline });
    if (options.dryRun) {
      if (options.output === "json")
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...plan }, null, 2)}\n`);
      else io.stdout.write(formatPipelinePlan(plan));
      return;
    }
    throw new Error("running pipelines is not available in this build");
  });
}
