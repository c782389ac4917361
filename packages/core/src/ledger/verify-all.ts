import { resolve } from "node:path";
import { loadProject } from "../config/project.js";
import { type LedgerCheck as ChainCheck, ledgerAt } from "./ledger.js";
import { stateScopes } from "./store.js";

export interface LedgerCheck extends ChainCheck {
  environment: string;
  target: string;
  /** One of the target's hosts (its own ledger), as its records name it. */
  host?: string;
}

/**
 * Verify the hash chains and head anchors of the project's ledgers
 * (optionally one environment and/or target). Throws at the first broken one.
 */
export async function verifyLedgers(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
}): Promise<LedgerCheck[]> {
  const project = await loadProject(options.cwd ?? process.cwd());
  const location = {
    cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
    root: project.root,
  };
  const checks: LedgerCheck[] = [];
  for (const scope of stateScopes(location, (target) => project.config.targets?.[target]?.hosts ?? [])) {
    if (options.environment && scope.environment !== options.environment) continue;
    if (options.target && scope.target !== options.target) continue;
    const { host, ...where } = scope;
    checks.push({ ...where, ...(host ? { host } : {}), ...(await ledgerAt(location, scope).verify()) });
  }
  return checks;
}
