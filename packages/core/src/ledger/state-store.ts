/**
 * Where the deploy state of a run lives, and the one place a StateStore is
 * chosen: the files under cacheDir (state: "local", the default), or the
 * target itself (state: "target") — a Kubernetes namespace, a swarm's
 * configs, or a Docker engine's volumes — reached through the same context
 * and credentials the deploy uses.
 */
import type { TargetSettings } from "../base/target.js";
import { fileScopes, fileStore, type Scope, type StateStore } from "./store.js";

/** Where a run keeps deploy state (root: what paths in messages are relative to). */
export interface StoreLocation {
  cacheDir: string;
  root?: string | undefined;
  /** Set for state: "target": the project and how to reach the target. cacheDir is then only a cache. */
  remote?: RemoteState | undefined;
}

/** What a store on the target needs: the project (objects are named by project, environment and target) and the target. */
export interface RemoteState {
  project: string;
  target: TargetSettings;
}

/** The store of one environment@target. Every reader and writer of deploy state gets its store here. */
export function stateStore(location: StoreLocation, scope: Scope): StateStore {
  return fileStore(location.cacheDir, scope, location.root ? { root: location.root } : {});
}

/** Every environment@target with records at `location` (for a store on the target: of its target). */
export async function stateScopes(location: StoreLocation): Promise<Scope[]> {
  return fileScopes(location.cacheDir);
}
