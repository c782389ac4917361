import type { BackendName, PullPolicy, TargetSettings } from "../base/target.js";
import type { Hook } from "../config/model.js";
import type { PlannedRoute } from "../render/routes.js";
import type { ServiceView } from "../render/view.js";

/** A command kaupang runs, shown by --dry-run exactly as it will be executed. */
export interface PlanCommand {
  argv: string[];
  /** Variables set for this command only (never secret values). */
  env?: Record<string, string>;
  /** Why it runs, or when ("only if missing"). */
  description: string;
}

export interface PlannedImage {
  service: string;
  /** The reference as configured (after prefixing); a digest ref when pinned in config. */
  ref: string;
  /** Resolved digest (sha256:…), set once resolved; absent in a hermetic dry-run. */
  digest?: string;
  /** True when the deployed artifact carries a digest. */
  pinned: boolean;
  /** Pinned to a local image ID: a build that was never pushed, deployed with --no-resolve. */
  local?: boolean;
}

/** A generated file: its path relative to the config root, and its text. */
export interface Artifact {
  path: string;
  content: string;
}

export interface KubeArtifactObject {
  kind: string;
  name: string;
  /** The name kaupang's selectors use (label app.kubernetes.io/name). */
  service: string | undefined;
  annotations: Record<string, string>;
}

export interface EnvironmentPlan {
  environment: string;
  /** Environment file, relative to the config root. */
  file: string;
  dependsOn: string[];
  /** Services grouped in start waves; a wave depends only on earlier ones. */
  waves: string[][];
  /** Services whose task runs once and must exit 0 (migrations). */
  runOnce: string[];
  /** Desired replicas per service. */
  replicas: Record<string, number>;
  images: PlannedImage[];
  /** Host variables referenced with secret(); their values are never written. */
  secrets: string[];
  artifact: Artifact;
  /**
   * A staged deploy (swarm, Kubernetes; more than one wave): the artifact of
   * each wave, rendered with the whole one (`…waveN.yaml`).
   */
  waveArtifacts?: Artifact[];
  /**
   * Kubernetes: the Secret the environment's pods pull with, holding the
   * deployer's docker login for `registries` (names only: the credentials are
   * read when it is applied, sent on kubectl's stdin and never written).
   */
  registryAuth?: { secret: string; registries: string[] };
  /** Kubernetes: the objects of the artifact (kind, name, service), recorded when it was rendered. */
  objects?: KubeArtifactObject[];
  /** What each service of the artifact should run (image, env, ports, replicas, command). */
  views: Record<string, ServiceView>;
  /** HTTP routes through the proxy (compose, swarm) or Ingresses (Kubernetes); absent when none. */
  routes?: PlannedRoute[];
  hooks: { beforeUp: Hook[]; afterUp: Hook[]; beforeDown: Hook[]; afterDown: Hook[] };
  /** The environment's own pull policy, when it sets one (swarm deploys its stack with it). */
  pull?: PullPolicy;
  commands: PlanCommand[];
}

export interface Plan {
  project: string;
  /** Set when the plan deploys a solution. */
  solution?: { name: string; version: string };
  target: string;
  backend: BackendName;
  targetSettings: TargetSettings;
  pull: PullPolicy;
  /** Absolute config root; artifact paths are relative to it. */
  root: string;
  environmentOrder: string[];
  environmentWaves: string[][];
  environments: EnvironmentPlan[];
}
