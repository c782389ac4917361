/**
 * Where the deploy state of a run lives, and the one place a StateStore is
 * chosen: the files under cacheDir (state: "local", the default), or the
 * target itself (state: "target") — a Kubernetes namespace (kube-store.ts),
 * a swarm's configs or an engine's volumes (object-store.ts over
 * engine-space.ts) — reached through the same context and credentials the
 * deploy uses.
 *
 * With state on the target, cacheDir is only a cache: units read from the
 * target are kept under <cacheDir>/state-cache/units (content-addressed, each
 * checked against its digest on every read), so deleting it loses nothing.
 */

import { hash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDuration } from "../base/duration.js";
import { KaupangError } from "../base/errors.js";
import { writeFileAtomic } from "../base/fs.js";
import type { TargetSettings } from "../base/target.js";
import type { Model } from "../config/model.js";
import type { Plan } from "../plan/types.js";
import { engineScopes, engineSpace } from "./engine-space.js";
import { kubeScopes, kubeStore } from "./kube-store.js";
import { objectStore } from "./object-store.js";
import { fileScopes, fileStore, type Scope, type StateStore } from "./store.js";

/** Where a run keeps deploy state (root: what paths in messages are relative to). */
export interface StoreLocation {
  cacheDir: string;
  root?: string | undefined;
  /** Set for state: "target": the project and how to reach the target. cacheDir is then only a cache. */
  remote: RemoteState | undefined;
}

/** What a store on the target needs: the project (objects are named by project, environment and target) and the target. */
export interface RemoteState {
  project: string;
  target: TargetSettings;
}

/** Where the state of a planned run lives: its cacheDir, or its target when the target says state: "target". */
export function planStoreLocation(
  model: Pick<Model, "cacheDir" | "target">,
  plan: Pick<Plan, "root" | "project" | "targetSettings">,
): StoreLocation {
  return {
    cacheDir: model.cacheDir,
    root: plan.root,
    remote:
      model.target.state === "target" ? { project: plan.project, target: plan.targetSettings } : undefined,
  };
}

/** A lock holder's lease on the target when KAUPANG_LOCK_LEASE does not set one. */
const defaultLeaseMs = 30_000;

/** KAUPANG_LOCK_LEASE ("30s", "2m", or seconds), else 30 s. */
function leaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.KAUPANG_LOCK_LEASE;
  if (!value) return defaultLeaseMs;
  try {
    const ms = /^\d+$/.test(value) ? Number(value) * 1000 : parseDuration(value);
    if (ms >= 1000) return ms;
  } catch {
    // reported below
  }
  throw new KaupangError(
    "ERR_INVALID_ENV",
    `KAUPANG_LOCK_LEASE=${value}: not a duration of at least 1s (e.g. 30s, 2m)`,
  );
}

const sha256 = (text: string) => `sha256:${hash("sha256", text, "hex")}`;

/** Units read from the target, kept in cacheDir: only a copy, checked against its digest whenever read. */
function cachingUnits(store: StateStore, dir: string): StateStore {
  const file = (digest: string) => join(dir, `${digest.slice(digest.indexOf(":") + 1)}.json`);
  const keep = async (digest: string, text: string) => {
    try {
      await writeFileAtomic(file(digest), text);
    } catch {
      // a cache that cannot be written is no error
    }
  };
  return {
    ...store,
    async putUnit(digest, text) {
      await store.putUnit(digest, text);
      await keep(digest, text);
    },
    async getUnit(digest) {
      if (existsSync(file(digest))) {
        const text = await readFile(file(digest), "utf8");
        if (sha256(text) === digest) return text;
      }
      const text = await store.getUnit(digest);
      if (text !== undefined && sha256(text) === digest) await keep(digest, text);
      return text;
    },
  };
}

/**
 * The target as one of its hosts' engines reaches it: a target with hosts
 * keeps each host's state on that host (`dockerHost` set, no `hosts`).
 */
function onHost(target: TargetSettings, scope: Scope): TargetSettings {
  if (!target.hosts || target.hosts.length === 0) return target;
  if (!scope.host)
    throw new KaupangError(
      "ERR_STATE_NEEDS_HOST",
      `target ${target.name} keeps its state on each of its hosts (state: "target"), and this reads ${scope.environment}@${scope.target} without naming one; refused`,
    );
  const { hosts: _hosts, ...rest } = target;
  return { ...rest, dockerHost: scope.host };
}

/**
 * The store of one environment@target (of one of its hosts, for a target
 * with hosts). Every reader and writer of deploy state gets its store here.
 * `cache: false` reads units from the target every time (`ledger verify`).
 */
export function stateStore(
  location: StoreLocation,
  scope: Scope,
  options: { cache?: boolean } = {},
): StateStore {
  if (!location.remote)
    return fileStore(location.cacheDir, scope, location.root ? { root: location.root } : {});
  const { project, target } = location.remote;
  const lease = leaseMs();
  let store: StateStore;
  if (target.backend === "kubernetes") store = kubeStore({ project, target, scope, leaseMs: lease });
  else {
    const space = engineSpace({
      kind: target.backend === "swarm" ? "configs" : "volumes",
      project,
      target: onHost(target, scope),
      scope,
    });
    store = objectStore(space, scope, {
      leaseMs: lease,
      lockLocation: `${space.location} (lock objects l.*, b.*, f.*)`,
    });
  }
  return options.cache === false
    ? store
    : cachingUnits(store, join(location.cacheDir, "state-cache", "units"));
}

/**
 * Every environment@target with records at `location` (on the target: of
 * that target, on each of its hosts for a target with hosts; locally, every
 * host of a target with hosts too, `hosts` naming a target's configured hosts).
 */
export async function stateScopes(
  location: StoreLocation,
  hosts: (target: string) => readonly string[] = () => [],
): Promise<Scope[]> {
  if (!location.remote) return fileScopes(location.cacheDir, hosts, location.root);
  const { project, target } = location.remote;
  if (target.backend === "kubernetes") return kubeScopes({ project, target });
  const kind = target.backend === "swarm" ? "configs" : "volumes";
  if (!target.hosts || target.hosts.length === 0) return engineScopes({ kind, project, target });
  const perHost = await Promise.all(
    target.hosts.map((host) =>
      engineScopes({
        kind,
        project,
        target: onHost(target, { environment: "", target: target.name, host }),
        host,
      }),
    ),
  );
  return perHost.flat();
}
