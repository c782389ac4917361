/**
 * `docker compose …` runs the compose plugin binary with the same arguments,
 * after the docker CLI has started and asked the plugin for its metadata:
 * ~40 ms per call here. kaupang finds the plugin where the docker CLI looks
 * for it and runs it directly (compose v2 runs standalone with the same
 * flags and reads the same docker config and context). Only a plain
 * `docker compose` is redirected: with docker's global flags (--context,
 * --host) kaupang goes through the docker CLI as written.
 */
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { dockerConfigDir, readDockerConfig } from "./docker-config.js";

const found = new Map<string, string | undefined>();

function pluginDirs(env: NodeJS.ProcessEnv): string[] {
  const configDir = dockerConfigDir(env);
  const extra = readDockerConfig(env).cliPluginsExtraDirs ?? [];
  return [
    join(configDir, "cli-plugins"),
    ...extra,
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
  ];
}

/** The compose plugin the docker CLI would run, or undefined (then `docker compose` is used as is). */
export function composePlugin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = pluginDirs(env);
  const key = dirs.join("\0");
  if (!found.has(key)) {
    found.set(key, undefined);
    for (const dir of dirs) {
      const candidate = join(dir, "docker-compose");
      try {
        accessSync(candidate, constants.X_OK);
        found.set(key, candidate);
        break;
      } catch {
        // not here
      }
    }
  }
  return found.get(key);
}

/** argv to start for a command written as `docker compose …`. */
export function directCompose(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): [string, string[]] {
  if (file !== "docker" || args[0] !== "compose") return [file, [...args]];
  const plugin = composePlugin(env);
  return plugin ? [plugin, args.slice(1)] : [file, [...args]];
}
