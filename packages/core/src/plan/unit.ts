/**
 * A deployment unit: everything needed to replay one environment's deploy
 * without the config — its plan, the target settings, backend and pull
 * policy. The ledger stores one per deploy; a bundle carries them.
 *
 * Units recorded by an older kaupang lack what the planner now carries (the
 * wave artifacts, the services' views, the Kubernetes objects, swarm's
 * re-run commands): `completeUnit` derives them from the artifact's text, the
 * one place an artifact is ever parsed back.
 */
import { isAbsolute, relative, resolve } from "node:path";
import type { BackendName, PullPolicy, TargetSettings } from "../base/target.js";
import { waveDocuments } from "../render/render.js";
import { viewDocuments } from "../render/view.js";
import { parseArtifact, toYamlStream } from "../render/yaml.js";
import { upCommands, waveArtifactPath } from "./commands.js";
import type { EnvironmentPlan, KubeArtifactObject } from "./types.js";

export interface DeploymentUnit {
  project: string;
  target: TargetSettings;
  backend: BackendName;
  pull: PullPolicy;
  environment: EnvironmentPlan;
}

/** `path` relative to `root` when it is inside it; otherwise as it is. */
function underRoot(path: string, root: string): string {
  const rel = relative(root, path);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/**
 * A unit as the ledger keeps it: free of where the checkout that planned it
 * lives — the root in commands is ".", hook directories and a kubeconfig
 * inside the checkout are relative to it — so one deploy planned in two
 * working copies (two CI agents) is one unit with one digest. A run resolves
 * them against its own root (`unitTarget`, the hooks' runner).
 */
export function portableUnit(unit: DeploymentUnit, root: string): DeploymentUnit {
  const env = unit.environment;
  const here = (path: string) => underRoot(path, root);
  const hooks = Object.fromEntries(
    Object.entries(env.hooks).map(([phase, list]) => [phase, list.map((h) => ({ ...h, cwd: here(h.cwd) }))]),
  ) as EnvironmentPlan["hooks"];
  return {
    ...unit,
    target: unit.target.kubeconfig
      ? { ...unit.target, kubeconfig: here(unit.target.kubeconfig) }
      : unit.target,
    environment: {
      ...env,
      hooks,
      commands: env.commands.map((c) => ({
        ...c,
        argv: c.argv.map((a) => (a === root ? "." : a)),
        ...(c.env?.KUBECONFIG ? { env: { ...c.env, KUBECONFIG: here(c.env.KUBECONFIG) } } : {}),
      })),
    },
  };
}

/** The target settings of a unit for a run at `root` (a kubeconfig the unit names relative to its checkout). */
export function unitTarget(unit: Pick<DeploymentUnit, "target">, root: string): TargetSettings {
  const { kubeconfig } = unit.target;
  return kubeconfig && !isAbsolute(kubeconfig)
    ? { ...unit.target, kubeconfig: resolve(root, kubeconfig) }
    : unit.target;
}

/** A unit as stored by any version: the pieces added since may be missing. */
export type StoredUnit = Omit<DeploymentUnit, "environment"> & {
  environment: Omit<EnvironmentPlan, "views"> & Partial<Pick<EnvironmentPlan, "views">>;
};

/** What the command builders need to know of each rendered Kubernetes object. */
function kubeObjects(documents: readonly unknown[]): KubeArtifactObject[] {
  return (documents as { kind?: unknown; metadata?: Record<string, unknown> }[]).flatMap((o) => {
    const metadata = o.metadata as
      | { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
      | undefined;
    if (!o.kind || !metadata?.name) return [];
    return [
      {
        kind: String(o.kind),
        name: metadata.name,
        service: metadata.labels?.["app.kubernetes.io/name"],
        annotations: metadata.annotations ?? {},
      },
    ];
  });
}

/**
 * What the planner carries of an environment's rendered documents besides
 * its text: the wave artifacts of a staged deploy, the Kubernetes objects,
 * and what each service should run. In this key order (units are compared
 * by the digest of their JSON).
 */
export function fromDocuments(
  backend: BackendName,
  documents: readonly unknown[],
  env: Pick<EnvironmentPlan, "artifact" | "waves">,
  wave: (services: readonly string[]) => string = (services) =>
    toYamlStream(waveDocuments(backend, documents, services)),
): Pick<EnvironmentPlan, "waveArtifacts" | "objects" | "views"> {
  const staged = backend !== "compose" && env.waves.length > 1;
  return {
    ...(staged
      ? {
          waveArtifacts: env.waves.map((services, i) => ({
            path: waveArtifactPath(env.artifact.path, i + 1),
            content: wave(services),
          })),
        }
      : {}),
    ...(backend === "kubernetes" ? { objects: kubeObjects(documents) } : {}),
    views: viewDocuments(backend, documents),
  };
}

/** A stored unit with everything the planner carries today (see the top of this file). */
export function completeUnit(stored: StoredUnit): DeploymentUnit {
  const env = stored.environment;
  if (env.views !== undefined) return stored as DeploymentUnit;
  const { objects: _objects, waveArtifacts: _waves, hooks, commands, ...head } = env;
  const environment: EnvironmentPlan = {
    ...head,
    ...fromDocuments(stored.backend, parseArtifact(env.artifact.content), env),
    hooks,
    commands,
  };
  // Swarm's re-runs of one-shot services joined the plan's commands (no command
  // of swarm's depends on the config root).
  if (stored.backend === "swarm") {
    environment.commands = upCommands(
      { project: stored.project, target: stored.target, pull: stored.pull, root: "." },
      environment,
    );
  }
  return { ...stored, environment };
}
