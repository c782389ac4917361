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
 *
 * kaupang's own objects on an engine (deploy state kept on the target) are
 * always reached through its API: `engineFor(target)` is the local socket
 * when the CLI would use it, and otherwise one `docker system dial-stdio`
 * process (the docker CLI connecting as it always does: contexts, SSH, TLS,
 * DOCKER_HOST) carrying every request of the run over one connection.
 */

import type { Agent, AgentOptions } from "node:http";
import { Duplex } from "node:stream";
import { isKaupangError, KaupangError } from "../base/errors.js";
import { readResponse } from "../base/http-body.js";
import type { TargetSettings } from "../base/target.js";
import { readDockerConfig } from "./docker-config.js";
import { openChannel } from "./exec.js";

export interface EngineReply<T> {
  status: number;
  body: T;
}

export interface DockerEngine {
  /** The socket asked. */
  readonly socket: string;
  request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<EngineReply<T>>;
}

/** An engine reached for kaupang's own objects, and how (for messages). */
export interface TargetEngine extends DockerEngine {
  /** "the local engine (/var/run/docker.sock)", "docker context staging", "DOCKER_HOST=ssh://…". */
  readonly via: string;
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

/** One request to the engine's API over `agent` (a socket path, or the agent's own connections). */
async function engineRequest<T>(
  connection: { socketPath?: string; agent: Agent },
  method: "GET" | "POST" | "DELETE",
  path: string,
  body: unknown,
  onUnreachable: (error: NodeJS.ErrnoException) => Error,
): Promise<EngineReply<T>> {
  const http = await import("node:http");
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<EngineReply<T>>((resolve, reject) => {
    const req = http.request(
      {
        ...(connection.socketPath ? { socketPath: connection.socketPath } : {}),
        path,
        method,
        agent: connection.agent,
        headers: {
          host: "docker",
          ...(payload ? { "content-type": "application/json" } : {}),
        },
        signal: AbortSignal.timeout(30_000),
      },
      (res) => readResponse<T>(res, resolve, reject),
    );
    req.on("error", (error: NodeJS.ErrnoException) => reject(onUnreachable(error)));
    req.end(payload);
  });
}

function engineAt(socket: string): DockerEngine {
  return {
    socket,
    async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) {
      if (unreachable.has(socket)) throw new EngineUnreachable(socket);
      const http = await import("node:http");
      // Keep-alive: concurrent inspects share a few connections (free sockets are unref'd).
      agent ??= new http.Agent({ keepAlive: true });
      return engineRequest<T>({ socketPath: socket, agent }, method, path, body, (error) => {
        if (["ENOENT", "ECONNREFUSED", "EACCES", "EPERM", "ENOTSOCK"].includes(error.code ?? "")) {
          unreachable.add(socket);
          return new EngineUnreachable(`${socket}: ${error.code}`);
        }
        return error;
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

/** How the docker CLI reaches the engine of `target`, as a user reads it. */
function engineVia(target: TargetSettings, env: NodeJS.ProcessEnv): string {
  if (target.dockerContext) return `docker context ${target.dockerContext}`;
  if (target.dockerHost) return `host ${target.dockerHost}`;
  if (env.DOCKER_HOST) return `DOCKER_HOST=${env.DOCKER_HOST}`;
  const context = env.DOCKER_CONTEXT ?? readDockerConfig(env).currentContext;
  return context && context !== "default" ? `docker context ${context}` : "the local Docker engine";
}

/**
 * An HTTP agent whose one connection is a `docker system dial-stdio` child:
 * the docker CLI connects to the engine as it would for any command, and
 * kaupang speaks the engine API over the child's stdin and stdout. Idle, it
 * keeps nothing running; a new child starts if the last one ended.
 */
async function dialAgent(argv: readonly string[], via: string): Promise<Agent> {
  const http = await import("node:http");
  class DialAgent extends http.Agent {
    override createConnection(
      _options: unknown,
      callback: (error: Error | null, socket: Duplex) => void,
    ): undefined {
      const channel = openChannel(argv);
      const socket = Duplex.from({ readable: channel.child.stdout!, writable: channel.child.stdin! });
      const reason = () => channel.stderr().split("\n").filter(Boolean).at(-1) ?? "the connection ended";
      // What http.Agent asks of a socket besides reading and writing.
      Object.assign(socket, {
        setKeepAlive: () => socket,
        setNoDelay: () => socket,
        setTimeout: () => socket,
        ref: () => {
          channel.hold(true);
          return socket;
        },
        unref: () => {
          channel.hold(false);
          return socket;
        },
      });
      socket.on("close", () => channel.child.kill("SIGTERM"));
      channel.child.once("error", (error) => socket.destroy(error));
      channel.child.once("exit", (code) => {
        if (code !== 0)
          socket.destroy(
            new KaupangError("ERR_ENGINE_UNREACHABLE", `cannot reach ${via}: ${reason()}`, {
              hint: `check that \`${[...argv.slice(0, -2), "info"].join(" ")}\` answers`,
            }),
          );
      });
      callback(null, socket);
      return undefined;
    }
  }
  return new DialAgent({ keepAlive: true, maxSockets: 1 } satisfies AgentOptions);
}

const dialAgents = new Map<string, Promise<Agent>>();

/**
 * The engine of `target` for kaupang's own objects, always over its API: the
 * local socket when the docker CLI would use it (and it answers), otherwise
 * a dial-stdio connection through the docker CLI.
 */
export function engineFor(target: TargetSettings, env: NodeJS.ProcessEnv = process.env): TargetEngine {
  const socket = localEngineSocket(target, env);
  const via = socket ? `the local Docker engine (${socket})` : engineVia(target, env);
  const argv = [
    "docker",
    ...(target.dockerContext ? ["--context", target.dockerContext] : []),
    ...(!target.dockerContext && target.dockerHost ? ["--host", target.dockerHost] : []),
    "system",
    "dial-stdio",
  ];
  const dial = async <T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) => {
    const key = argv.join(" ");
    if (!dialAgents.has(key)) dialAgents.set(key, dialAgent(argv, via));
    const agent = await dialAgents.get(key)!;
    return engineRequest<T>({ agent }, method, path, body, (error) =>
      isKaupangError(error)
        ? error
        : new KaupangError("ERR_ENGINE_UNREACHABLE", `cannot reach ${via}: ${error.message}`, {
            hint: `check that \`${[...argv.slice(0, -2), "info"].join(" ")}\` answers`,
          }),
    );
  };
  return {
    socket: socket ?? via,
    via,
    async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) {
      if (socket !== undefined && !unreachable.has(socket)) {
        try {
          return await engineAt(socket).request<T>(method, path, body);
        } catch (error) {
          if (!(error instanceof EngineUnreachable)) throw error;
        }
      }
      return dial<T>(method, path, body);
    },
  };
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
