/**
 * Where a deploy records itself. With a kaupang config: its root, cacheDir and
 * selected target. Without one (an air-gapped site deploying a bundle): the
 * working directory, `.kaupang` in it, and the target from --target,
 * $KAUPANG_TARGET or "local".
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { configNames } from "../config/load.js";
import type { Model } from "../config/model.js";
import { selectTarget } from "../config/normalize.js";
import { loadProject } from "../config/project.js";
import { type Ledger, ledgerAt } from "../ledger/ledger.js";
import type { Plan } from "../plan/types.js";

export interface Site {
  root: string;
  cacheDir: string;
  target: string;
  hasConfig: boolean;
}

export async function openSite(options: {
  cwd?: string | undefined;
  target?: string | undefined;
}): Promise<Site> {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (configNames.some((name) => existsSync(join(cwd, name)))) {
    const project = await loadProject(cwd);
    const target = selectTarget(project, { target: options.target });
    return {
      root: project.root,
      cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
      target: target.name,
      hasConfig: true,
    };
  }
  return {
    root: cwd,
    cacheDir: join(cwd, ".kaupang"),
    target: options.target ?? process.env.KAUPANG_TARGET ?? "local",
    hasConfig: false,
  };
}

export function ledgerFor(
  plan: Pick<Plan, "root">,
  model: Pick<Model, "cacheDir">,
  environment: string,
  target: string,
  version?: string,
): Ledger {
  return ledgerAt(
    { cacheDir: model.cacheDir, root: plan.root },
    { environment, target },
    { kaupangVersion: version },
  );
}
