import {
  type Deployment,
  deployments,
  diff,
  type EnvironmentDiff,
  exec,
  formatCommand,
  ledgerScopes,
  openLedger,
  passthroughCommands,
  status,
} from "@kaupang/core";
import type { Command } from "commander";
import { formatHistory } from "../output/history.js";
import { type Io, sanitize } from "../output/io.js";
import { createReporter } from "../output/reporter.js";
import { addFlags, type CommonOptions } from "./options.js";

/** Exit code of `status` when what runs differs from what was deployed (CI can gate on it). */
const driftExitCode = 3;

export function formatDiff(diffs: readonly EnvironmentDiff[]): string {
  const lines: string[] = [];
  for (const d of diffs) {
    const against = d.against ? `against ${d.against}` : "not deployed yet";
    const count = d.changes.length + d.secrets.length;
    if (count === 0) {
      lines.push(`${d.environment} (${against}): no changes`);
      continue;
    }
    lines.push(`${d.environment} (${against}): ${count} change${count === 1 ? "" : "s"}`);
    for (const c of d.changes)
      lines.push(
        `  ${c.kind === "added" ? "+" : c.kind === "removed" ? "-" : "~"} ${c.service}: ${c.detail}`,
      );
    for (const secret of d.secrets) lines.push(`  ~ ${secret}`);
  }
  return `${lines.join("\n")}\n`;
}

export function registerInspect(program: Command, io: Io): void {
  const statusCommand = program
    .command("status")
    .description("compare what runs now with the last deploy (exit 0 ok, 3 drifted, 1 error)")
    .argument("[env]", "one environment (default: all of the project)");
  addFlags(statusCommand, ["target", "output", "cwd"]);
  statusCommand.action(async (env: string | undefined, options: CommonOptions) => {
    const results = await status({ cwd: options.cwd, environment: env, target: options.target });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else {
      for (const r of results) {
        const head = `${r.environment}@${r.target}: ${r.state}${r.deploymentId ? ` (deployment ${r.deploymentId})` : ""}`;
        const last = r.last
          ? `  last deploy ${r.last.id} (${r.last.action}) ${r.last.status}${r.last.error ? `: ${r.last.error}` : ""}\n`
          : "";
        io.stdout.write(
          sanitize(
            `${head}\n${last}${r.drift.map((d) => `  ${d.service}: ${d.kind}: ${d.detail}\n`).join("")}${r.secrets
              .map((s) => `  ${s} since that deploy (up applies it)\n`)
              .join("")}`,
          ),
        );
      }
    }
    if (results.some((r) => r.state === "drifted")) io.exitCode = driftExitCode;
  });

  const diffCommand = program
    .command("diff")
    .description("show what `up` would change against the last deploy")
    .argument("<env>", "environment (and its dependencies)")
    .option("--no-resolve", "compare configured references without asking the registry");
  addFlags(diffCommand, ["target", "backend", "output", "cwd"]);
  diffCommand.action(async (env: string, options: CommonOptions & { resolve: boolean }) => {
    const diffs = await diff({
      cwd: options.cwd,
      environments: [env],
      target: options.target,
      backend: options.backend,
      resolve: options.resolve,
      events: createReporter(io, { verbose: false }),
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(diffs, null, 2)}\n`);
    else io.stdout.write(formatDiff(diffs));
  });

  const history = program
    .command("history")
    .description("the deploy ledger as a table (same as rollback --list)")
    .argument("[env]", "one environment (default: all with a ledger for the target)");
  addFlags(history, ["target", "output", "cwd"]);
  history.action(async (env: string | undefined, options: CommonOptions) => {
    const names = env
      ? [env]
      : (await ledgerScopes({ cwd: options.cwd, target: options.target })).map((s) => s.scope.environment);
    const records: Deployment[] = [];
    for (const name of [...new Set(names)]) {
      const opened = await openLedger({ cwd: options.cwd, environment: name, target: options.target });
      records.push(...deployments(opened.records, opened.running));
    }
    records.sort((a, b) => a.at.localeCompare(b.at));
    if (options.output === "json") io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
    else io.stdout.write(formatHistory(records, { showEnvironment: !env }));
  });

  for (const kind of ["ps", "logs"] as const) {
    const command = program
      .command(kind)
      .description(
        kind === "ps" ? "list an environment's containers, tasks or pods" : "show an environment's logs",
      )
      .argument("<env>", "environment")
      .argument("[service]", "one service");
    if (kind === "logs") command.option("-f, --follow", "keep streaming");
    addFlags(command, ["target", "cwd"]);
    command.action(
      async (env: string, service: string | undefined, options: CommonOptions & { follow?: boolean }) => {
        const commands = await passthroughCommands(kind, {
          cwd: options.cwd,
          environment: env,
          service,
          target: options.target,
          follow: options.follow,
        });
        const results = await Promise.all(
          commands.map((c) => {
            io.stderr.write(`$ ${formatCommand(c.argv, c.env)}\n`);
            return exec(c.argv, { inherit: true, ...(c.env ? { env: c.env } : {}) });
          }),
        );
        const failed = results.find((r) => r.exitCode !== 0);
        if (failed) io.exitCode = failed.exitCode;
      },
    );
  }
}
