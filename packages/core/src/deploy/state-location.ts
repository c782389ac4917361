/**
 * Where a deploy records itself. With a kaupang config: its root, cacheDir and
 * selected target. Without one (an air-gapped site deploying a bundle): the
 * working directory, `.kaupang` in it, and the target from --target,
 * $KAUPANG_TARGET or "local".
 */
import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { BackendName } from "../base/target.js";
import { configNames } from "../config/load.js";
import type { Model, Target } from "../config/model.js";
import { selectTarget } from "../config/normalize.js";
import { loadProject } from "../config/project.js";
import { Ledger } from "../ledger/ledger.js";
import type { Plan } from "../plan/types.js";

export interface Site {
  root: string;
  cacheDir: string;
  target: string;
  hasConfig: boolean;
  /** With a config: its project name, its file (relative to root), and the selected target's settings. */
  project?: string;
  configFile?: string;
  settings?: Target;
  /** The target's `requireSignature` key: absolute path, and as written. */
  requireSignature?: { key: string; display: string };
}

export async function openSite(options: {
  cwd?: string | undefined;
  target?: string | undefined;
  backend?: BackendName | undefined;
}): Promise<Site> {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (configNames.some((name) => existsSync(join(cwd, name)))) {
    const project = await loadProject(cwd);
    const target = selectTarget(project, { target: options.target, backend: options.backend });
    const required = project.config.targets?.[target.name]?.requireSignature;
    const { env: _env, ...settings } = target;
    return {
      root: project.root,
      cacheDir: resolve(project.root, project.config.cacheDir ?? ".kaupang"),
      target: target.name,
      hasConfig: true,
      project: project.config.project,
      configFile: relative(project.root, project.configFile) || project.configFile,
      settings,
      ...(required
        ? { requireSignature: { key: resolve(project.root, required.key), display: required.key } }
        : {}),
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
  return new Ledger(model.cacheDir, environment, target, {
    root: plan.root,
    ...(version ? { kaupangVersion: version } : {}),
  });
}
