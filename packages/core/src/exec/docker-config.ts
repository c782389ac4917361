/** The docker CLI's own config file, read as the docker CLI reads it. */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  cliPluginsExtraDirs?: string[];
  /** The context `docker` uses when neither --context nor DOCKER_CONTEXT/DOCKER_HOST say otherwise. */
  currentContext?: string;
}

/** `$DOCKER_CONFIG`, default `~/.docker`. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(homedir(), ".docker");
}

/** Its config.json; empty when there is none (or one docker itself would not read either). */
export function readDockerConfig(env: NodeJS.ProcessEnv = process.env): DockerConfig {
  try {
    return JSON.parse(readFileSync(join(dockerConfigDir(env), "config.json"), "utf8")) as DockerConfig;
  } catch {
    return {};
  }
}
