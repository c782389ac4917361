/**
 * Read-mostly questions to the local Docker engine over its API socket: which
 * containers a project runs, what they run, whether the project network
 * exists. `docker ps` or `docker inspect` answer the same from the engine's
 * same endpoints, but each is a process start (~15–20 ms here) where one
 * request on the socket takes ~1 ms; a no-change deploy is made of such
 * questions.
 *
 * Only the engine the docker CLI would talk to by default is asked directly:
 * no `dockerContext` on the target, no DOCKER_CONTEXT, no current context in
 * the docker config, and DOCKER_HOST unset or a unix socket — or the target's
 * `dockerHost` when that is a unix socket (a tcp or ssh one goes to the CLI). Anything else
 * (remote hosts, TLS, SSH, contexts) goes through the docker CLI as written.
 * If the socket cannot be reached, callers fall back to the CLI too, so the
 * user sees docker's own error.
 */
import type { Agent } from "node:http";
import type { TargetSettings } from "../base/target.js";
import { readDockerConfig } from "./docker-config.js";

export interface EngineReply<T> {
  status: number;
  body: T;
}

export interface DockerEngine {
  /** The socket asked. */
  readonly socket: string;
  request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<EngineReply<T>>;
}

/** The socket could not be reached: use the docker CLI instead. */
class EngineUnreachable extends Error {}

const defaultSocket = "/var/run/docker.sock";

/** The unix socket of the engine the docker CLI would use for this target, if it is one. */
export function localEngineSocket(
  target: TargetSettings,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (target.dockerContext) return undefined;
  // The target's own engine: its socket when it is a unix socket, else the CLI.
  if (target.dockerHost) {
    return target.dockerHost.startsWith("unix://") ? target.dockerHost.slice("unix://".length) : undefined;
  }
  if (env.DOCKER_CONTEXT && env.DOCKER_CONTEXT !== "default") return undefined;
  const host = env.DOCKER_HOST;
  if (host && !host.startsWith("unix://")) return undefined;
  if (!host && !usesDefaultContext(env)) return undefined;
  return host ? host.slice("unix://".length) : defaultSocket;
}

const defaultContext = new Map<string, boolean>();

/** Whether the docker config selects no context of its own (read once per config: swarm asks often). */
function usesDefaultContext(env: NodeJS.ProcessEnv): boolean {
  const key = env.DOCKER_CONFIG ?? "";
  let answer = defaultContext.get(key);
  if (answer === undefined) {
    const current = readDockerConfig(env).currentContext;
    answer = !current || current === "default";
    defaultContext.set(key, answer);
  }
  return answer;
}

let agent: Agent | undefined;
const unreachable = new Set<string>();

function engineAt(socket: string): DockerEngine {
  return {
    socket,
    async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) {
      if (unreachable.has(socket)) throw new EngineUnreachable(socket);
      const http = await import("node:http");
      // Keep-alive: concurrent inspects share a few connections (free sockets are unref'd).
      agent ??= new http.Agent({ keepAlive: true });
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise<EngineReply<T>>((resolve, reject) => {
        const req = http.request(
          {
            socketPath: socket,
            path,
            method,
            agent,
            headers: {
              host: "docker",
              ...(payload ? { "content-type": "application/json" } : {}),
            },
            signal: AbortSignal.timeout(30_000),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", reject);
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let parsed: unknown = text;
              try {
                parsed = text ? JSON.parse(text) : undefined;
              } catch {
                // not JSON (a plain-text error): keep the text
              }
              resolve({ status: res.statusCode ?? 0, body: parsed as T });
            });
          },
        );
        req.on("error", (error: NodeJS.ErrnoException) => {
          if (["ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTSOCK"].includes(error.code ?? "")) {
            unreachable.add(socket);
            reject(new EngineUnreachable(`${socket}: ${error.code}`));
          } else reject(error);
        });
        req.end(payload);
      });
    },
  };
}

/**
 * Ask the engine through `viaEngine` when the target's engine is the local
 * socket and it answers; otherwise (or if it cannot be reached) `viaCli`.
 */
export async function withEngine<T>(
  target: TargetSettings,
  viaEngine: (engine: DockerEngine) => Promise<T>,
  viaCli: () => Promise<T>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<T> {
  const socket = localEngineSocket(target, env);
  if (socket === undefined || unreachable.has(socket)) return viaCli();
  try {
    return await viaEngine(engineAt(socket));
  } catch (error) {
    if (error instanceof EngineUnreachable) return viaCli();
    throw error;
  }
}

/** The `filters` query parameter of the engine's list endpoints. */
export function engineFilters(filters: Record<string, string[]>): string {
  return encodeURIComponent(JSON.stringify(filters));
}

/** What kaupang reads of an image: its ID and the registry digests it was pulled or pushed as. */
export interface EngineImage {
  Id: string;
  RepoDigests?: string[];
}

/** Inspect images by reference or ID, concurrently; undefined where the engine has no such image. */
export async function inspectImages(
  engine: DockerEngine,
  refs: readonly string[],
): Promise<(EngineImage | undefined)[]> {
  const replies = await Promise.all(
    refs.map((ref) => engine.request<EngineImage>("GET", `/images/${ref}/json`)),
  );
  return replies.map((reply) => (reply.status === 200 ? reply.body : undefined));
}

/** The engine's error text of a failed reply. */
export function engineMessage(reply: EngineReply<unknown>): string {
  const body = reply.body as { message?: string } | string | undefined;
  if (typeof body === "string") return body.trim();
  return body?.message ?? `HTTP ${reply.status}`;
}
