/**
 * The user's registry logins, read the way the docker CLI reads them:
 * `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), with
 * `credHelpers` per registry, then the `credsStore`, then inline `auths`.
 * A helper is the `docker-credential-<name>` program; it is only started for
 * a registry that asks for credentials.
 */
import { type DockerConfig, readDockerConfig } from "../exec/docker-config.js";
import { exec } from "../exec/exec.js";

export interface Credentials {
  username?: string;
  password?: string;
  /** OAuth refresh token (`identitytoken`), exchanged at the token endpoint. */
  identityToken?: string;
}

type AuthEntry = NonNullable<DockerConfig["auths"]>[string];

/** Docker Hub's logins are stored under its legacy index address. */
const hubKey = "https://index.docker.io/v1/";

/** The config key for a registry, and the forms docker accepts for it. */
function keysFor(registry: string): string[] {
  if (registry === "docker.io") return [hubKey, "docker.io", "index.docker.io", "registry-1.docker.io"];
  return [
    registry,
    `https://${registry}`,
    `http://${registry}`,
    `https://${registry}/v1/`,
    `https://${registry}/v2/`,
  ];
}

function fromEntry(entry: AuthEntry | undefined): Credentials | undefined {
  if (!entry) return undefined;
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

async function fromHelper(
  helper: string,
  server: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  const result = await exec([`docker-credential-${helper}`, "get"], {
    env,
    input: server,
    quiet: true,
    timeoutMs: 30_000,
  });
  if (result.exitCode !== 0) return undefined; // "credentials not found"
  try {
    const answer = JSON.parse(result.stdout) as { Username?: string; Secret?: string };
    if (!answer.Secret) return undefined;
    return answer.Username === "<token>"
      ? { identityToken: answer.Secret }
      : { username: answer.Username ?? "", password: answer.Secret };
  } catch {
    return undefined;
  }
}

/**
 * Credentials for `registry` (as written in the image reference: host[:port],
 * or docker.io), or undefined when the user has none for it.
 */
export async function credentialsFor(
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials | undefined> {
  const config = readDockerConfig(env);
  const keys = keysFor(registry);
  const server = registry === "docker.io" ? hubKey : registry;
  const helper = keys.map((key) => config.credHelpers?.[key]).find(Boolean);
  if (helper) return fromHelper(helper, server, env);
  if (config.credsStore) {
    const stored = await fromHelper(config.credsStore, server, env);
    if (stored) return stored;
  }
  for (const key of keys) {
    const found = fromEntry(config.auths?.[key]);
    if (found) return found;
  }
  return undefined;
}
