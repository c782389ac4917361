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
