/**
 * Where a run's state lives — the ledger and the locks of each
 * environment@target. With a kaupang config (here or in a directory above,
 * as every command finds it): under its root's cacheDir, for
 * the selected target (and the loaded project comes along, so nothing loads
 * it twice). Without one (an air-gapped site deploying a bundle): `.kaupang`
 * in the working directory, and the target from --target, $KAUPANG_TARGET or
 * "local".
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { configFileAbove } from "../config/load.js";
import type { Model } from "../config/model.js";
import { selectTarget } from "../config/normalize.js";
import { loadProject, type Project } from "../config/project.js";
import { type Ledger, ledgerAt } from "../ledger/ledger.js";
import type { Plan } from "../plan/types.js";

interface StateLocation {
  root: string;
  cacheDir: string;
  target: string;
  /** The target's hosts (each with its own ledger), when the config gives it some. */
  hosts?: string[];
  /** The loaded config, when there is one. */
  project?: Project;
}

export async function locateState(options: {
  cwd?: string | undefined;
  target?: string | undefined;
}): Promise<StateLocation> {
  const cwd = resolve(options.cwd ?? process.cwd());
  // The same search as every command's: this directory's config, or the nearest above it.
  if (existsSync(cwd) && configFileAbove(cwd) !== undefined) {
    const project = await loadProject(cwd);
    const target = selectTarget(project, { target: options.target });
    return {
      root: project.root,
      cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
      target: target.name,
      ...(target.hosts ? { hosts: target.hosts } : {}),
      project,
    };
  }
  return {
    root: cwd,
    cacheDir: join(cwd, ".kaupang"),
    target: options.target ?? process.env.KAUPANG_TARGET ?? "local",
  };
}

/**
 * The key a config's target requires bundles to be signed with
 * (`requireSignature`): its absolute path, and the path as written.
 */
export function requiredSignatureKey(state: StateLocation): { key: string; display: string } | undefined {
  const written = state.project?.config.targets?.[state.target]?.requireSignature;
  return written ? { key: resolve(state.root, written.key), display: written.key } : undefined;
}

/** The ledger of one environment@target of a plan (of one of the target's hosts, when given). */
export function ledgerFor(
  plan: Pick<Plan, "root">,
  model: Pick<Model, "cacheDir">,
  environment: string,
  target: string,
  version?: string,
  host?: string,
): Ledger {
  return ledgerAt(
    { cacheDir: model.cacheDir, root: plan.root },
    { environment, target, ...(host ? { host } : {}) },
    { kaupangVersion: version },
  );
}
