import { backendNames, isDuration, parseDuration, pullPolicies } from "@kaupang/core";
import { type Command, InvalidArgumentError, Option } from "commander";

/** The same duration rule as the config's (`500ms`, `2s`, `2m`, `1h`). */
function parseDurationFlag(value: string): number {
  if (!isDuration(value)) throw new InvalidArgumentError("use a duration such as 90s, 5m or 1h.");
  return parseDuration(value);
}

/** Flags shared by commands, from one table so names and choices cannot drift from the config schema. */
export const flags = {
  cwd: () => new Option("--cwd <dir>", "directory holding kaupang.config.* (default: current directory)"),
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
}
