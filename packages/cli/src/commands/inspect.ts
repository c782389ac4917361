import {
  type Change,
  type Deployment,
  deployments,
  diff,
  type EnvironmentDiff,
  exec,
  formatCommand,
  type LiveInstance,
  ledgerScopes,
  openLedgers,
  type PassthroughCommand,
  passthroughCommands,
  ps,
  recordChanges,
  sinceProblem,
  status,
} from "@kaupang/core";
import { type Command, InvalidArgumentError, Option } from "commander";
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
    const name = `${d.environment}${d.host ? ` on ${d.host}` : ""}`;
    const count = d.changes.length + d.secrets.length;
    if (count === 0) {
      lines.push(`${name} (${against}): no changes`);
      continue;
    }
    lines.push(`${name} (${against}): ${count} change${count === 1 ? "" : "s"}`);
    for (const c of d.changes)
      lines.push(
        `  ${c.kind === "added" ? "+" : c.kind === "removed" ? "-" : "~"} ${c.service}: ${c.detail}`,
      );
    for (const secret of d.secrets) lines.push(`  ~ ${secret}`);
  }
  return `${lines.join("\n")}\n`;
}

/** One line per pod (Kubernetes): what runs, whether it is ready, its restarts and the image the node runs. */
function formatInstances(instances: readonly LiveInstance[]): string {
  return instances
    .map((i) => {
      const state = i.waiting ? `${i.state} (${i.waiting})` : i.state;
      const ready = i.ready === undefined ? "" : i.ready ? ", ready" : ", not ready";
      const restarts = i.restarts ? `, ${i.restarts} restart${i.restarts === 1 ? "" : "s"}` : "";
      return `  ${i.service}: ${i.name}: ${state}${ready}${restarts}, image ${i.image}\n`;
    })
    .join("");
}

export function registerInspect(program: Command, io: Io): void {
  const statusCommand = program
    .command("status")
    .description("compare what runs now with the last deploy (exit 0 ok, 3 drifted, 1 error)")
    .argument("[env]", "one environment (default: all of the project)");
  addFlags(statusCommand, ["target", "hosts", "output", "cwd"]);
  statusCommand.action(async (env: string | undefined, options: CommonOptions) => {
    const results = await status({
      cwd: options.cwd,
      environment: env,
      target: options.target,
      hosts: options.hosts,
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else {
      for (const r of results) {
        const head = `${r.environment}@${r.target}${r.host ? ` on ${r.host}` : ""}: ${r.state}${r.deploymentId ? ` (deployment ${r.deploymentId})` : ""}`;
        const last = r.last
          ? `  last deploy ${r.last.id} (${r.last.action}) ${r.last.status}${r.last.error ? `: ${r.last.error}` : ""}\n`
          : "";
        io.stdout.write(
          sanitize(
            `${head}\n${last}${r.drift.map((d) => `  ${d.service}: ${d.kind}: ${d.detail}\n`).join("")}${r.secrets
              .map((s) => `  ${s} since that deploy (up applies it)\n`)
              .join(
                "",
              )}${r.urls.map((u) => `  ${u.service} → ${u.url}\n`).join("")}${formatInstances(r.instances ?? [])}`,
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
    .option("--resolve", "resolve image tags to registry digests (the default)")
    .option("--no-resolve", "compare configured references without asking the registry");
  addFlags(diffCommand, ["target", "hosts", "backend", "output", "cwd"]);
  diffCommand.action(async (env: string, options: CommonOptions & { resolve?: boolean }) => {
    const diffs = await diff({
      cwd: options.cwd,
      environments: [env],
      target: options.target,
      backend: options.backend,
      hosts: options.hosts,
      resolve: options.resolve !== false,
      events: createReporter(io, { quiet: true }),
    });
    if (options.output === "json") io.stdout.write(`${JSON.stringify(diffs, null, 2)}\n`);
    else io.stdout.write(formatDiff(diffs));
  });

  const history = program
    .command("history")
    .description("the deploy ledger as a table (same as rollback --list)")
    .argument("[env]", "one environment (default: all with a ledger for the target)");
  addFlags(history, ["target", "hosts", "output", "cwd"]);
  history.action(async (env: string | undefined, options: CommonOptions) => {
    const names = env
      ? [env]
      : (await ledgerScopes({ cwd: options.cwd, target: options.target })).map((s) => s.scope.environment);
    const rows: { record: Deployment; changes: Change[] | undefined }[] = [];
    for (const name of [...new Set(names)]) {
      const ledgers = await openLedgers({
        cwd: options.cwd,
        environment: name,
        target: options.target,
        hosts: options.hosts,
      });
      // Each host's records are compared with that host's own earlier ones.
      for (const opened of ledgers) {
        const records = deployments(opened.records, opened.running);
        const changes = await recordChanges(opened.ledger, records);
        rows.push(...records.map((record, i) => ({ record, changes: changes[i] })));
      }
    }
    rows.sort((a, b) => a.record.at.localeCompare(b.record.at));
    const records = rows.map((r) => r.record);
    if (options.output === "json") {
      io.stdout.write(
        `${JSON.stringify(
          rows.map((r) => ({ ...r.record, ...(r.changes ? { changes: r.changes } : {}) })),
          null,
          2,
        )}\n`,
      );
    } else
      io.stdout.write(formatHistory(records, { showEnvironment: !env, changes: rows.map((r) => r.changes) }));
  });

  const psCommand = program
    .command("ps")
    .description("list an environment's containers, tasks or pods")
    .argument("<env>", "environment")
    .argument("[service]", "one service");
  addFlags(psCommand, ["target", "hosts", "output", "cwd"]);
  psCommand.action(async (env: string, service: string | undefined, options: CommonOptions) => {
    const request = {
      cwd: options.cwd,
      environment: env,
      service,
      target: options.target,
      hosts: options.hosts,
    };
    if (options.output === "json") {
      io.stdout.write(`${JSON.stringify(await ps(request), null, 2)}\n`);
      return;
    }
    await passthrough(io, await passthroughCommands("ps", request));
  });

  const logsCommand = program
    .command("logs")
    .description("show an environment's logs (the backend's own: docker compose, docker service, kubectl)")
    .argument("<env>", "environment")
    .argument("[service]", "one service")
    .option("-f, --follow", "keep streaming")
    .addOption(
      new Option("--tail <n>", 'only the last n lines of each container ("all": everything)').argParser(
        (value) => {
          if (value === "all") return "all";
          if (!/^\d+$/.test(value)) throw new InvalidArgumentError('use a number of lines, or "all".');
          return Number(value);
        },
      ),
    )
    .addOption(
      new Option(
        "--since <when>",
        "only lines since a duration ago (10m, 1h30m) or a time (RFC 3339)",
      ).argParser((value) => {
        const problem = sinceProblem(value);
        if (problem) throw new InvalidArgumentError(`${problem}.`);
        return value;
      }),
    )
    .option("-t, --timestamps", "show each line's timestamp");
  addFlags(logsCommand, ["target", "hosts", "cwd"]);
  logsCommand.action(
    async (
      env: string,
      service: string | undefined,
      options: CommonOptions & {
        follow?: boolean;
        tail?: number | "all";
        since?: string;
        timestamps?: boolean;
      },
    ) => {
      const commands = await passthroughCommands("logs", {
        cwd: options.cwd,
        environment: env,
        service,
        target: options.target,
        hosts: options.hosts,
        follow: options.follow,
        tail: options.tail,
        since: options.since,
        timestamps: options.timestamps,
      });
      await passthrough(io, commands, { follow: options.follow });
    },
  );
}

/**
 * Run the backend's own commands on this terminal; the first failure's exit
 * code is kaupang's. A target with hosts: one host after the other, so their
 * output does not interleave (following: all at once).
 */
async function passthrough(
  io: Io,
  commands: readonly PassthroughCommand[],
  options: { follow?: boolean | undefined } = {},
): Promise<void> {
  const run = (c: PassthroughCommand) => {
    io.stderr.write(`$ ${formatCommand(c.argv, c.env)}\n`);
    return exec(c.argv, { inherit: true, ...(c.env ? { env: c.env } : {}) });
  };
  const results = [];
  if (commands.some((c) => c.host) && !options.follow) for (const c of commands) results.push(await run(c));
  else results.push(...(await Promise.all(commands.map(run))));
  const failed = results.find((r) => r.exitCode !== 0);
  if (failed) io.exitCode = failed.exitCode;
}
