import { resolve } from "node:path";
import { selectTarget } from "../config/normalize.js";
import { loadProject } from "../config/project.js";
import { type LedgerCheck as ChainCheck, ledgerAt } from "./ledger.js";
import { type StoreLocation, stateScopes } from "./state-store.js";
import type { Scope } from "./store.js";

export interface LedgerCheck extends ChainCheck {
  environment: string;
  target: string;
  /** One of the target's hosts (its own ledger), as its records name it. */
  host?: string;
}

/**
 * The project's ledgers (optionally of one environment and/or target), and
 * where each lives: every ledger under cacheDir of a target that keeps its
 * state locally, and — when the selected target (--target, else
 * $KAUPANG_TARGET or local) keeps its state on the target — the ledgers
 * there. Other targets with state on the target are not contacted.
 */
export async function ledgerScopes(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
}): Promise<{ location: StoreLocation; scope: Scope }[]> {
  const project = await loadProject(options.cwd ?? process.cwd());
  const local: StoreLocation = {
    cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
    root: project.root,
    remote: undefined,
  };
  const targets = project.config.targets ?? {};
  const found: { location: StoreLocation; scope: Scope }[] = [];
  for (const scope of await stateScopes(local, (target) => targets[target]?.hosts ?? []))
    if (targets[scope.target]?.state !== "target") found.push({ location: local, scope });
  const { pull: _pull, env: _env, state, ...settings } = selectTarget(project, { target: options.target });
  if (state === "target") {
    const remote: StoreLocation = { ...local, remote: { project: project.config.project, target: settings } };
    for (const scope of await stateScopes(remote)) found.push({ location: remote, scope });
  }
  return found.filter(
    ({ scope }) =>
      (!options.environment || scope.environment === options.environment) &&
      (!options.target || scope.target === options.target),
  );
}

/**
 * Verify the hash chains, head anchors and units of the project's ledgers
 * (see ledgerScopes for which); every unit is read and checked against its
 * digest — on the target, not from the local cache. Throws at the first
 * broken one.
 */
export async function verifyLedgers(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
}): Promise<LedgerCheck[]> {
  const checks: LedgerCheck[] = [];
  for (const { location, scope } of await ledgerScopes(options)) {
    const ledger = ledgerAt(location, scope, { cache: false });
    const { host, ...where } = scope;
    checks.push({ ...where, ...(host ? { host } : {}), ...(await ledger.verify(undefined, { deep: true })) });
  }
  return checks;
}
