import {
  interruptedBy,
  type PipelineResult,
  preparePipeline,
  runPipeline,
  signalExitCode,
} from "@kaupang/core";
import { type Command, InvalidArgumentError, Option } from "commander";
import { interrupted } from "../interrupt.js";
import type { Io } from "../output/io.js";
import { formatPipelinePlan, formatPlan, planJson } from "../output/plan-text.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { addFlags, type CommonOptions } from "./options.js";

function formatSummary(result: PipelineResult): string {
  const width = Math.max(...result.steps.map((s) => s.step.length));
  const lines = [
    `Pipeline ${result.pipeline} ${result.status} (target ${result.target}, concurrency ${result.concurrency}):`,
  ];
  for (const s of result.steps) {
    const time = s.durationMs !== undefined ? `${(s.durationMs / 1000).toFixed(1)}s` : "";
    const ids = s.deployments?.length
      ? `  ${s.deployments.map((d) => `${d.environment} ${d.deploymentId}`).join(", ")}`
      : "";
    const error = s.error ? `  ${s.error}` : "";
    lines.push(`  ${s.step.padEnd(width)}  ${s.status.padEnd(11)}  ${time.padStart(6)}${ids}${error}`);
  }
  return `${lines.join("\n")}\n`;
}

export function registerRun(program: Command, io: Io): void {
  const command = program
    .command("run")
    .description(
      "run a pipeline: a DAG of run / up / down / build / wait steps, in parallel where needs allow",
    )
    .argument("<pipeline>", "pipeline name from the config")
    .addOption(
      new Option("--concurrency <n>", "at most this many steps at once (default: the widest wave)").argParser(
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 1)
            throw new InvalidArgumentError("use a whole number of 1 or more.");
          return n;
        },
      ),
    );
  addFlags(command, ["target", "dryRun", "output", "timeout", "quiet", "verbose", "cwd"]);
  command.action(async (pipeline: string, options: CommonOptions & { concurrency?: number }) => {
    if (options.dryRun) {
      const prepared = await preparePipeline({ cwd: options.cwd, pipeline, target: options.target });
      if (options.output === "json") {
        const ups = Object.fromEntries(
          Object.entries(prepared.upPlans).map(([step, p]) => [step, planJson(p.plan)]),
        );
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...prepared.plan, upPlans: ups }, null, 2)}\n`);
        return;
      }
      io.stdout.write(formatPipelinePlan(prepared.plan));
      for (const [step, planned] of Object.entries(prepared.upPlans)) {
        io.stdout.write(`\nStep ${step}: up ${planned.plan.environmentOrder.at(-1)}\n`);
        io.stdout.write(formatPlan(planned.plan).replace(/\nDry run: nothing was deployed\.\n$/, ""));
      }
      return;
    }
    const result = await runPipeline({
      cwd: options.cwd,
      pipeline,
      target: options.target,
      concurrency: options.concurrency,
      signal: interrupted,
      events: createReporter(io, options),
      timeoutMs: options.timeout,
      kaupangVersion: version,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else io.stderr.write(formatSummary(result));
    if (result.status !== "succeeded")
      io.exitCode = result.status === "interrupted" ? signalExitCode(interruptedBy() ?? "SIGINT") : 1;
  });
}
