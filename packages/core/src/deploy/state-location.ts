/**
 * Where a run's state lives — the ledger and the locks of each
 * environment@target. With a kaupang config (here or in a directory above,
 * as every command finds it): under its root's cacheDir, for
 * the selected target (and the loaded project comes along, so nothing loads
 * it twice), or on the target itself when it says state: "target". Without
 * one (an air-gapped site deploying a bundle): `.kaupang` in the working
 * directory, and the target from --target, $KAUPANG_TARGET or "local"; a
 * bundle made for a target with state: "target" keeps its state there, and
 * the site remembers that (`.kaupang/targets/<target>.json`, rewritten by
 * every `up --bundle`) so rollback, history and status find it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { writeFileAtomic } from "../base/fs.js";
import type { StateMode, TargetSettings } from "../base/target.js";
import { configFileAbove } from "../config/load.js";
import type { Model } from "../config/model.js";
import { selectTarget } from "../config/normalize.js";
import { loadProject, type Project } from "../config/project.js";
import { type Ledger, ledgerAt } from "../ledger/ledger.js";
import { planStoreLocation, type RemoteState, type StoreLocation } from "../ledger/state-store.js";
import type { Plan } from "../plan/types.js";

interface StateLocation extends StoreLocation {
  root: string;
  cacheDir: string;
  target: string;
  /** The target's hosts (each with its own ledger), when the config gives it some. */
  hosts?: string[];
  /** The loaded config, when there is one. */
  project?: Project;
}

/** Where a site without a config remembers that a target keeps its state on the target. */
const rememberedPath = (cacheDir: string, target: string) => join(cacheDir, "targets", `${target}.json`);

/** Remember, for commands run later without a config, that `target` keeps its state on the target. */
export async function rememberRemoteState(cacheDir: string, remote: RemoteState): Promise<void> {
  await writeFileAtomic(
    rememberedPath(cacheDir, remote.target.name),
    `${JSON.stringify({ state: "target", ...remote }, null, 2)}\n`,
  );
}

function remembered(cacheDir: string, target: string): RemoteState | undefined {
  const path = rememberedPath(cacheDir, target);
  if (!existsSync(path)) return undefined;
  const { project, target: settings } = JSON.parse(readFileSync(path, "utf8")) as RemoteState;
  return { project, target: settings };
}

export async function locateState(options: {
  cwd?: string | undefined;
  target?: string | undefined;
  /** Where to look instead of where the target says (`ledger export/import --state`, moving a history). */
  state?: StateMode | undefined;
}): Promise<StateLocation> {
  const cwd = resolve(options.cwd ?? process.cwd());
  // The same search as every command's: this directory's config, or the nearest above it.
  if (existsSync(cwd) && configFileAbove(cwd) !== undefined) {
    const project = await loadProject(cwd);
    const selected = selectTarget(project, { target: options.target });
    const { pull: _pull, env: _env, state: configured, ...settings } = selected;
    const state = options.state ?? configured;
    return {
      root: project.root,
      cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
      target: settings.name,
      ...(settings.hosts ? { hosts: settings.hosts } : {}),
      project,
      remote:
        state === "target"
          ? { project: project.config.project, target: settings satisfies TargetSettings }
          : undefined,
    };
  }
  const cacheDir = join(cwd, ".kaupang");
  const target = options.target ?? process.env.KAUPANG_TARGET ?? "local";
  const remote = options.state === "local" ? undefined : remembered(cacheDir, target);
  if (options.state === "target" && !remote)
    throw new KaupangError(
      "ERR_NO_CONFIG",
      `no kaupang config in ${cwd}, and no record of where target ${target} keeps its state`,
      { hint: "run it where the config is (--cwd), or deploy a bundle for that target here first" },
    );
  return { root: cwd, cacheDir, target, remote };
}

/** The ledger of one environment@target of a plan (of one of the target's hosts, when given). */
export function ledgerFor(
  plan: Pick<Plan, "root" | "project" | "targetSettings">,
  model: Pick<Model, "cacheDir" | "target">,
  environment: string,
  target: string,
  version?: string,
  host?: string,
): Ledger {
  return ledgerAt(
    planStoreLocation(model, plan),
    { environment, target, ...(host ? { host } : {}) },
    { kaupangVersion: version },
  );
}
