import type { BackendName, Environment, Model } from "../config/model.js";
import { type RenderOptions, renderCompose } from "./compose.js";
import { renderKubernetes } from "./kubernetes.js";
import { renderSwarm } from "./swarm.js";

const renderers: Record<BackendName, (model: Model, env: Environment, options?: RenderOptions) => string> = {
  compose: renderCompose,
  swarm: renderSwarm,
  kubernetes: renderKubernetes,
};

/** The artifact text for one environment on the model's backend. */
export function renderArtifact(model: Model, env: Environment, options: RenderOptions = {}): string {
  return renderers[model.target.backend](model, env, options);
}

export const artifactExtension: Record<BackendName, string> = {
  compose: "compose.yaml",
  swarm: "stack.yaml",
  kubernetes: "k8s.yaml",
};
