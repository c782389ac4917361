import { backendNames, isDuration, parseDuration, pullPolicies } from "@kaupang/core";
import { type Command, InvalidArgumentError, Option } from "commander";

/** The same duration rule as the config's (`500ms`, `2s`, `2m`, `1h`). */
function parseDurationFlag(value: string): number {
  if (!isDuration(value)) throw new InvalidArgumentError("use a duration such as 90s, 5m or 1h.");
  return parseDuration(value);
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("use a whole number, 1 or more.");
  return n;
}

/** `--hosts a,b` (repeatable): the hosts named, in the order given. */
function parseHosts(value: string, previous: string[] | undefined): string[] {
  const hosts = value
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  if (hosts.length === 0) throw new InvalidArgumentError("name one or more of the target's hosts.");
  return [...(previous ?? []), ...hosts];
}

/** Flags shared by commands, from one table so names and choices cannot drift from the config schema. */
export const flags = {
  cwd: () =>
    new Option(
      "--cwd <dir>",
      "run as if in <dir>: its kaupang.config.*, or the nearest one above it (default: current directory)",
    ),
  target: () => new Option("--target <name>", "target to deploy to (default: $KAUPANG_TARGET, else local)"),
  backend: () => new Option("-b, --backend <name>", "override the target's backend").choices(backendNames),
  pull: () => new Option("--pull <policy>", "image pull policy for this run").choices(pullPolicies),
  dryRun: () => new Option("--dry-run", "print the plan and commands; touch nothing"),
  output: () =>
    new Option("--output <format>", "text, or json on stdout").choices(["text", "json"]).default("text"),
  timeout: () =>
    new Option(
      "--timeout <duration>",
      "how long each environment may take to become ready (default 5m)",
    ).argParser(parseDurationFlag),
  quiet: () =>
    new Option("-q, --quiet", "show kaupang's progress but not the tools' output").conflicts("verbose"),
  verbose: () =>
    new Option(
      "-v, --verbose",
      "show every command kaupang runs with its full output, its own look-ups (inspect, ls) too",
    ),
  hosts: () =>
    new Option(
      "--hosts <hosts>",
      "only these of the target's hosts (comma-separated URLs or host names)",
    ).argParser(parseHosts),
  concurrency: () =>
    new Option(
      "--concurrency <n>",
      "environments deployed at once, those with no dependency between them (default 8; 1 = one by one)",
    ).argParser(parseConcurrency),
};

export function addFlags(command: Command, names: (keyof typeof flags)[]): Command {
  for (const name of names) command.addOption(flags[name]());
  return command;
}

export interface CommonOptions {
  cwd?: string;
  target?: string;
  backend?: (typeof backendNames)[number];
  pull?: (typeof pullPolicies)[number];
  dryRun?: boolean;
  output: "text" | "json";
  timeout?: number;
  quiet?: boolean;
  verbose?: boolean;
  hosts?: string[];
  concurrency?: number;
}
