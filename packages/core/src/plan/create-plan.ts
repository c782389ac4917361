/**
 * Model → Plan: environment order, service waves, rendered artifacts and the
 * exact commands. Pure: no network, no child process, no file written. That is
 * what makes --dry-run hermetic.
 */
import { join, relative } from "node:path";
import { GraphError, topoWaves } from "../base/dag.js";
import { KaupangError } from "../base/errors.js";
import type { Model, PullPolicy } from "../config/model.js";
import { fieldError } from "../config/validate.js";
import { kubernetesObjects } from "../render/kubernetes.js";
import { artifactExtension, renderArtifact } from "../render/render.js";
import { upCommands } from "./commands.js";

/** What the command builders need to know of each rendered Kubernetes object. */
function kubeObjectSummary(objects: readonly Record<string, unknown>[]): KubeArtifactObject[] {
  return objects.map((o) => {
    const metadata = o.metadata as {
      name: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    return {
      kind: String(o.kind),
      name: metadata.name,
      service: metadata.labels?.["app.kubernetes.io/name"],
      annotations: metadata.annotations ?? {},
    };
  });
}

import type { TargetSettings } from "../base/target.js";
import type { EnvironmentPlan, KubeArtifactObject, Plan, PlannedImage } from "./types.js";

export interface PlanOptions {
  /** Run-level pull (`--pull`); default the target's. */
  pull?: PullPolicy | undefined;
  /** environment → service → pinned image ref (name@sha256:…), from resolution. */
  pinned?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** secret() name → keyed fingerprint of its value now (Kubernetes rolls pods whose secrets changed). */
  secrets?: Readonly<Record<string, string>> | undefined;
}

export const isDigestRef = (ref: string): boolean => /@sha256:[0-9a-f]{64}$/.test(ref);

export function environmentWaves(model: Model): string[][] {
  const graph = new Map(Object.entries(model.environments).map(([n, e]) => [n, e.dependsOn]));
  try {
    return topoWaves(graph);
  } catch (error) {
    if (error instanceof GraphError && error.problem.kind === "cycle") {
      const first = model.environments[error.problem.cycle[0]!]!;
      throw fieldError(
        first.file,
        ["dependsOn"],
        `environment dependency cycle: ${error.problem.cycle.join(" → ")}`,
      );
    }
    throw error;
  }
}

export function serviceWaves(model: Model, envName: string): string[][] {
  const env = model.environments[envName]!;
  const graph = new Map(Object.values(env.services).map((s) => [s.name, s.dependsOn]));
  try {
    return topoWaves(graph);
  } catch (error) {
    if (error instanceof GraphError && error.problem.kind === "cycle") {
      throw fieldError(
        env.file,
        ["services"],
        `service dependency cycle: ${error.problem.cycle.join(" → ")}`,
      );
    }
    throw error;
  }
}

function checkUniqueServiceNames(model: Model, order: readonly string[]): void {
  const owner = new Map<string, string>();
  for (const name of order) {
    for (const service of Object.keys(model.environments[name]!.services)) {
      const other = owner.get(service);
      if (other) {
        throw new KaupangError(
          "ERR_SERVICE_NAME_CLASH",
          `service "${service}" is defined in environments "${other}" and "${name}"; environments deployed together share one network${model.target.backend === "kubernetes" ? " and namespace" : ""}, so service names must be unique across them`,
          {
            hint: `rename one of them (files ${model.environments[other]!.file} and ${model.environments[name]!.file})`,
          },
        );
      }
      owner.set(service, name);
    }
  }
}

export function createPlan(model: Model, options: PlanOptions = {}): Plan {
  const environmentWavesList = environmentWaves(model);
  const order = environmentWavesList.flat();
  checkUniqueServiceNames(model, order);
  const pull = options.pull ?? model.target.pull;
  const { name: targetName, backend, pull: _pull, ...settings } = model.target;
  const target: TargetSettings = { name: targetName, backend, ...settings };
  const ctx = { project: model.project, target, pull, root: model.root };
  const artifactDir = relative(model.root, join(model.cacheDir, targetName)) || ".";

  const environments = order.map((name): EnvironmentPlan => {
    const env = model.environments[name]!;
    const waves = serviceWaves(model, name);
    const pinnedRefs = options.pinned?.[name] ?? {};
    const images: PlannedImage[] = Object.values(env.services).map((s) => {
      const pinnedRef = pinnedRefs[s.name];
      const ref = s.image;
      if (pinnedRef) {
        // An image ID (sha256:…) pins a local build; name@sha256:… a registry digest.
        const local = pinnedRef.startsWith("sha256:");
        const digest = local ? pinnedRef : pinnedRef.slice(pinnedRef.lastIndexOf("@") + 1);
        return { service: s.name, ref, digest, pinned: true, ...(local ? { local } : {}) };
      }
      return isDigestRef(ref)
        ? { service: s.name, ref, digest: ref.slice(ref.lastIndexOf("@") + 1), pinned: true }
        : { service: s.name, ref, pinned: false };
    });
    const secrets = [
      ...new Set(
        Object.values(env.services).flatMap((s) =>
          Object.values(s.env).flatMap((v) => (typeof v === "string" ? [] : [v.$secret])),
        ),
      ),
    ].sort();
    const content = renderArtifact(model, env, { images: pinnedRefs, secrets: options.secrets });
    const plan: EnvironmentPlan = {
      environment: name,
      file: env.file,
      dependsOn: env.dependsOn,
      waves,
      runOnce: Object.values(env.services)
        .filter((s) => s.runOnce)
        .map((s) => s.name),
      replicas: Object.fromEntries(Object.values(env.services).map((s) => [s.name, s.replicas])),
      images,
      secrets,
      artifact: { path: join(artifactDir, `${name}.${artifactExtension[backend]}`), content },
      ...(backend === "kubernetes"
        ? {
            objects: kubeObjectSummary(
              kubernetesObjects(model, env, { images: pinnedRefs, secrets: options.secrets }),
            ),
          }
        : {}),
      hooks: env.hooks,
      commands: [],
    };
    plan.commands = upCommands(ctx, plan);
    return plan;
  });

  return {
    project: model.project,
    target: targetName,
    backend,
    targetSettings: target,
    pull,
    root: model.root,
    environmentOrder: order,
    environmentWaves: environmentWavesList,
    environments,
  };
}
