/**
 * Reading compose files the way compose reads them: `docker compose config`
 * merges several files with compose's own rules, resolves `extends`,
 * `include`, YAML anchors and merge keys, env files and profiles, and prints
 * every field in its long form. kaupang shells out to it (as it does to
 * deploy) instead of re-implementing the compose spec; why is in
 * docs/architecture.md ("Importing compose files").
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { exec, tail } from "../exec/exec.js";
import type { ComposeProject } from "./compose.js";

interface ComposeRead {
  /** Interpolated with the current environment (and compose's .env): what compose would deploy now. */
  resolved: ComposeProject;
  /** Read with --no-interpolate: where `${VAR}` was written. */
  raw: ComposeProject;
  /** Absolute compose project directory (the first file's). */
  projectDir: string;
}

/** `docker compose --profile * -f a -f b config --format json` with or without interpolation. */
function composeConfigArgv(files: readonly string[], interpolate: boolean): string[] {
  return [
    "docker",
    "compose",
    "--profile",
    "*",
    ...files.flatMap((f) => ["-f", f]),
    "config",
    "--format",
    "json",
    ...(interpolate ? [] : ["--no-interpolate"]),
  ];
}

async function config(
  files: readonly string[],
  interpolate: boolean,
  cwd: string,
  env?: Record<string, string | undefined>,
) {
  const argv = composeConfigArgv(files, interpolate);
  const result = await exec(argv, { cwd, ...(env ? { env } : {}) });
  if (result.exitCode !== 0) {
    const reason = tail(result.stderr) || tail(result.stdout) || `exit code ${result.exitCode}`;
    if (/unknown (command|flag)|is not a docker command/.test(reason)) {
      throw new KaupangError(
        "ERR_TOOL_NOT_FOUND",
        "kaupang init --from reads compose files with `docker compose config`, and the docker compose v2 plugin was not found",
        { hint: "install the compose plugin (docker compose version must work)" },
      );
    }
    throw new KaupangError("ERR_COMPOSE_INVALID", `${files.join(", ")}: ${reason}`, {
      hint: `command: ${result.command}`,
    });
  }
  try {
    return JSON.parse(result.stdout) as ComposeProject;
  } catch {
    throw new KaupangError(
      "ERR_COMPOSE_INVALID",
      `${files.join(", ")}: docker compose config printed no JSON`,
      {
        hint: `command: ${result.command}`,
      },
    );
  }
}

/** Read compose `files` (relative to `cwd`), every profile enabled. */
export async function readCompose(
  files: readonly string[],
  cwd: string,
  env?: Record<string, string | undefined>,
): Promise<ComposeRead> {
  for (const file of files) {
    if (!existsSync(resolve(cwd, file))) {
      throw new KaupangError("ERR_USAGE", `--from ${file}: no such file`, {
        hint: "give the compose file(s) to convert: --from docker-compose.yml [-f docker-compose.override.yml]",
      });
    }
  }
  const [resolved, raw] = await Promise.all([config(files, true, cwd, env), config(files, false, cwd, env)]);
  return { resolved, raw, projectDir: dirname(resolve(cwd, files[0]!)) };
}
