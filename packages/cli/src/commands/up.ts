import {
  deployBundle,
  deployPlanned,
  diffPlan,
  formatCommand,
  planBundleUp,
  planUp,
  unsetSecretsWarning,
} from "@kaupang/core";
import type { Command } from "commander";
import type { Io } from "../output/io.js";
import { formatPlan, planJson, unitsJson } from "../output/plan-text.js";
import { createReporter } from "../output/reporter.js";
import { version } from "../version.js";
import { formatDiff } from "./inspect.js";
import { addFlags, type CommonOptions } from "./options.js";

interface UpFlags extends CommonOptions {
  resolve?: boolean;
  force?: boolean;
  rollbackOnFailure?: boolean;
  from?: string;
  solution?: string;
  bundle?: string;
}

export function registerUp(program: Command, io: Io): void {
  const command = program
    .command("up")
    .description("deploy an environment and everything it depends on (or a --solution, or a --bundle)")
    .argument("[env]", "environment to deploy")
    .option("--solution <name>", "deploy a solution: its environments, pins and env")
    .option("--bundle <dir|oci://ref>", "deploy a bundle offline: no source repo, config or registry needed")
    .option("--resolve", "resolve image tags to registry digests (the default)")
    .option("--no-resolve", "deploy image references as written (local builds are pinned by image ID)")
    .option(
      "--from <file>",
      "deploy the digests of an earlier `up --output json` (promotion) instead of resolving",
    )
    .option("--force", "apply even when nothing changed since the last deploy")
    .option(
      "--rollback-on-failure",
      "if apply, verify or an afterUp hook fails, re-apply the last succeeded deploy (and still exit 1)",
    )
    .option("--no-rollback-on-failure", "do not, even when the target or config sets rollbackOnFailure");
  addFlags(command, [
    "backend",
    "target",
    "hosts",
    "concurrency",
    "pull",
    "dryRun",
    "output",
    "timeout",
    "quiet",
    "verbose",
    "cwd",
  ]);
  command.action(async (env: string | undefined, options: UpFlags) => {
    const given = [env, options.solution, options.bundle].filter((v) => v !== undefined);
    if (given.length !== 1) {
      command.error("error: give exactly one of <env>, --solution <name> or --bundle <dir|oci://ref>");
    }
    const events = createReporter(io, options);
    const apply = { events, timeoutMs: options.timeout, kaupangVersion: version };
    if (options.bundle) {
      if (options.dryRun) {
        const bundle = await planBundleUp({
          bundle: options.bundle,
          cwd: options.cwd,
          target: options.target,
        });
        if (options.output === "json") {
          io.stdout.write(
            `${JSON.stringify({ dryRun: true, manifest: bundle.manifest, units: unitsJson(bundle.units), ...(bundle.loadImages ? { loadImages: bundle.loadImages } : {}) }, null, 2)}\n`,
          );
          return;
        }
        const m = bundle.manifest;
        const lines = [
          `Bundle ${m.solution.name}@${m.solution.version} for target ${m.target} (${m.backend}), verified: every file matches its manifest digest`,
          "",
        ];
        if (bundle.loadImages) {
          const c = bundle.loadImages;
          lines.push(`  $ ${formatCommand(c.argv, c.env)}    # ${c.description}`);
        }
        for (const unit of bundle.units) {
          lines.push(`  ${unit.environment.environment}`);
          for (const c of unit.environment.commands)
            lines.push(`    $ ${formatCommand(c.argv, c.env)}    # ${c.description}`);
        }
        io.stdout.write(`${lines.join("\n")}\n\nDry run: nothing was deployed.\n`);
        return;
      }
      const result = await deployBundle({
        ...apply,
        bundle: options.bundle,
        cwd: options.cwd,
        target: options.target,
        hosts: options.hosts,
        command: "kaupang up --bundle",
      });
      if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const request = {
      cwd: options.cwd,
      ...(env !== undefined ? { environments: [env] } : { solution: options.solution }),
      target: options.target,
      backend: options.backend,
      pull: options.pull,
      events,
    };
    const planned = await planUp(request);
    if (options.dryRun) {
      const unset = unsetSecretsWarning(planned.plan);
      if (unset) events({ type: "warning", message: unset });
      // What would change against the last deploy: configured references only (hermetic).
      const changes = await diffPlan(planned, planned.plan, true);
      if (options.output === "json") {
        io.stdout.write(`${JSON.stringify({ dryRun: true, ...planJson(planned.plan), changes }, null, 2)}\n`);
      } else {
        const summary = formatDiff(changes).replace(/^/gm, "  ").trimEnd();
        io.stdout.write(`Changes against the last deploy:\n${summary}\n\n${formatPlan(planned.plan)}`);
      }
      return;
    }
    const result = await deployPlanned(planned, {
      ...request,
      ...apply,
      resolve: options.resolve !== false,
      from: options.from,
      force: options.force,
      rollbackOnFailure: options.rollbackOnFailure,
      hosts: options.hosts,
      concurrency: options.concurrency,
      command: `kaupang up ${env ?? `--solution ${options.solution}`}`,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  });
}
