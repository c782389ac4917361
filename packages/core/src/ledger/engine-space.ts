/**
 * Object spaces (object-store.ts) on a Docker engine, reached over its API
 * (exec/docker-engine.ts: the local socket, or `docker system dial-stdio`
 * through the target's context):
 *
 * - swarm: configs, the swarm's own replicated store. A config's name is
 *   unique in the swarm and `POST /configs/create` with a taken name is 409,
 *   decided by the raft leader: one creator wins. The text is the config's
 *   data (at most 500 kB on older engines).
 * - compose: volumes of the engine, never mounted. `POST /volumes/create`
 *   with a taken name returns the volume that exists instead, under the
 *   engine's per-name lock; each create carries a random nonce label, so the
 *   reply says who created it: one creator wins. The text is a label (the
 *   local driver keeps labels in its metadata store). Creating a volume needs
 *   no image and no container.
 *
 * Every object is labelled kaupang.dev/state (the scope's key),
 * kaupang.dev/kind, and the exact project, environment and target (and host,
 * for one of a target's hosts: each host's engine keeps its own), and named
 * kaupang.<key>.<name> (swarm limits config names to 64 characters).
 */
import { randomUUID } from "node:crypto";
import { isKaupangError, KaupangError } from "../base/errors.js";
import type { TargetSettings } from "../base/target.js";
import { engineFilters, engineFor, engineMessage, type TargetEngine } from "../exec/docker-engine.js";
import type { ObjectKind, ObjectSpace, SpaceObject } from "./object-store.js";
import { type Scope, scopeKey } from "./store.js";

const label = {
  state: "kaupang.dev/state",
  kind: "kaupang.dev/kind",
  project: "kaupang.dev/project",
  environment: "kaupang.dev/environment",
  target: "kaupang.dev/target",
  host: "kaupang.dev/host",
  data: "kaupang.dev/data",
  nonce: "kaupang.dev/nonce",
} as const;

/** Labels kaupang sets on every object; the rest are the object's own. */
const own = (labels: Record<string, string> | null | undefined): Record<string, string> =>
  Object.fromEntries(
    Object.entries(labels ?? {}).filter(
      ([k]) => !(Object.values(label) as string[]).includes(k) && k.startsWith("kaupang.dev/"),
    ),
  );

interface Volume {
  Name: string;
  Labels?: Record<string, string> | null;
}

interface Config {
  ID: string;
  Spec: { Name: string; Labels?: Record<string, string> | null; Data?: string };
}

type Kind = "volumes" | "configs";

/** A one-line error for a reply the state cannot live with, naming the target and what was refused. */
function refused(
  target: string,
  engine: TargetEngine,
  kind: Kind,
  doing: string,
  reply: { status: number; body: unknown },
) {
  const message = engineMessage(reply);
  if (kind === "configs" && /not part of a swarm/i.test(message)) {
    return new KaupangError(
      "ERR_STATE_UNAVAILABLE",
      `target ${target}: kaupang keeps its state in swarm configs, but ${engine.via} is not part of a swarm (${message})`,
      { hint: 'point the target at a swarm manager (dockerContext or DOCKER_HOST), or use state: "local"' },
    );
  }
  if (kind === "configs" && (reply.status === 503 || /not a swarm manager/i.test(message))) {
    return new KaupangError(
      "ERR_STATE_UNAVAILABLE",
      `target ${target}: kaupang keeps its state in swarm configs, but ${engine.via} is not a swarm manager (${message})`,
      {
        hint: 'point the target at a manager node (dockerContext or DOCKER_HOST), promote this one (`docker node promote` on a manager), or use state: "local"',
      },
    );
  }
  return new KaupangError(
    "ERR_STATE_UNAVAILABLE",
    `target ${target}: cannot ${doing} kaupang's state (${kind}) on ${engine.via}: ${message}`,
  );
}

interface EngineSpaceOptions {
  kind: Kind;
  project: string;
  target: TargetSettings;
  scope: Scope;
  engine?: TargetEngine;
}

/** The engine, with a failure to reach it said as the target's ("target prod: cannot reach …"). */
function targetEngine(target: string, engine: TargetEngine): TargetEngine {
  return {
    ...engine,
    async request<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) {
      try {
        return await engine.request<T>(method, path, body);
      } catch (error) {
        if (!isKaupangError(error) || error.code !== "ERR_ENGINE_UNREACHABLE") throw error;
        throw new KaupangError(
          error.code,
          `target ${target}: kaupang keeps its state on the engine, and ${error.message}`,
          { ...(error.hint ? { hint: error.hint } : {}) },
        );
      }
    },
  };
}

export function engineSpace(options: EngineSpaceOptions): ObjectSpace {
  const { kind, project, scope } = options;
  const engine = targetEngine(scope.target, options.engine ?? engineFor(options.target));
  const key = scopeKey(project, scope);
  const prefix = `kaupang.${key}.`;
  const what = kind === "configs" ? "swarm configs" : "volumes";
  const fail = (doing: string, reply: { status: number; body: unknown }) =>
    refused(scope.target, engine, kind, doing, reply);
  const labels = (objectKind: ObjectKind, extra: Record<string, string> = {}) => ({
    [label.state]: key,
    [label.kind]: objectKind,
    [label.project]: project,
    [label.environment]: scope.environment,
    [label.target]: scope.target,
    ...(scope.host ? { [label.host]: scope.host } : {}),
    ...extra,
  });
  const fromVolume = (v: Volume): SpaceObject => ({
    name: v.Name.slice(prefix.length),
    data: v.Labels?.[label.data] ?? "",
    labels: own(v.Labels),
  });
  const fromConfig = (c: Config): SpaceObject => ({
    name: c.Spec.Name.slice(prefix.length),
    data: Buffer.from(c.Spec.Data ?? "", "base64").toString("utf8"),
    labels: own(c.Spec.Labels),
  });

  return {
    location: `${what} ${prefix}* on ${engine.via}`,
    // Swarm refuses configs over 500 kB on older engines; volume labels share its limit for simplicity.
    maxData: 400 * 1024,
    objectLocation: (name) =>
      `${kind === "configs" ? "swarm config" : "volume"} ${prefix}${name} on ${engine.via}`,

    async create(name, objectKind, data, extra) {
      if (kind === "configs") {
        const reply = await engine.request("POST", "/configs/create", {
          Name: prefix + name,
          Labels: labels(objectKind, extra),
          Data: Buffer.from(data).toString("base64"),
        });
        if (reply.status === 201) return true;
        if (reply.status === 409) return false;
        throw fail(`write ${name} of`, reply);
      }
      const nonce = randomUUID();
      const reply = await engine.request<Volume>("POST", "/volumes/create", {
        Name: prefix + name,
        Labels: labels(objectKind, { ...extra, [label.data]: data, [label.nonce]: nonce }),
      });
      if (reply.status !== 201 && reply.status !== 200) throw fail(`write ${name} of`, reply);
      // A taken name returns the volume that exists: ours only if it carries our nonce.
      return reply.body.Labels?.[label.nonce] === nonce;
    },

    async get(name) {
      const reply = await engine.request<Volume & Config>(
        "GET",
        `/${kind}/${encodeURIComponent(prefix + name)}`,
      );
      if (reply.status === 404) return undefined;
      if (reply.status !== 200) throw fail(`read ${name} of`, reply);
      return kind === "configs" ? fromConfig(reply.body) : fromVolume(reply.body);
    },

    async list(objectKind) {
      const filters = engineFilters({ label: [`${label.state}=${key}`, `${label.kind}=${objectKind}`] });
      if (kind === "configs") {
        const reply = await engine.request<Config[]>("GET", `/configs?filters=${filters}`);
        if (reply.status !== 200) throw fail("read", reply);
        return reply.body.filter((c) => c.Spec.Name.startsWith(prefix)).map(fromConfig);
      }
      const reply = await engine.request<{ Volumes: Volume[] | null }>("GET", `/volumes?filters=${filters}`);
      if (reply.status !== 200) throw fail("read", reply);
      return (reply.body.Volumes ?? []).filter((v) => v.Name.startsWith(prefix)).map(fromVolume);
    },

    async remove(name) {
      const reply = await engine.request("DELETE", `/${kind}/${encodeURIComponent(prefix + name)}`);
      if (reply.status !== 204 && reply.status !== 200 && reply.status !== 404)
        throw fail(`remove ${name} of`, reply);
    },
  };
}

/**
 * The environments of `project` with state on the engine for `target` (from
 * their head anchors); for one of a target's hosts (`host`), those of that
 * host, which is then the engine asked.
 */
export async function engineScopes(
  options: Omit<EngineSpaceOptions, "scope"> & { host?: string | undefined },
): Promise<Scope[]> {
  const { host } = options;
  const engine = targetEngine(options.target.name, options.engine ?? engineFor(options.target));
  const filters = engineFilters({
    label: [
      `${label.project}=${options.project}`,
      `${label.target}=${options.target.name}`,
      `${label.kind}=head`,
      ...(host ? [`${label.host}=${host}`] : []),
    ],
  });
  const reply = await engine.request<Config[] | { Volumes: Volume[] | null }>(
    "GET",
    `/${options.kind}?filters=${filters}`,
  );
  if (reply.status !== 200) throw refused(options.target.name, engine, options.kind, "read", reply);
  const labelsOf = Array.isArray(reply.body)
    ? reply.body.map((c) => c.Spec.Labels ?? {})
    : (reply.body.Volumes ?? []).map((v) => v.Labels ?? {});
  const environments = new Set(
    labelsOf
      // Without a host: the target's own state, not that of a host of a same-named target on this engine.
      .filter((l) => (host ? true : l[label.host] === undefined))
      .map((l) => l[label.environment])
      .filter((e): e is string => !!e),
  );
  return [...environments]
    .sort()
    .map((environment) => ({ environment, target: options.target.name, ...(host ? { host } : {}) }));
}
