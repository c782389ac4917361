/**
 * Apply a plan: for each environment in dependency order, beforeUp hooks,
 * write the artifact, let the backend apply it and wait, afterUp hooks.
 * Everything that can be checked (config, rendering, secrets) is checked
 * before the first side effect.
 */
import { type PlanUpOptions, planUp } from "../api.js";
import type { EventSink } from "../events.js";
import type { Plan, PlannedImage } from "../plan/types.js";
import { writeArtifacts } from "./artifacts.js";
import { backendContext, backendFor } from "./context.js";
import { runHooks } from "./hooks.js";
import { checkSecrets } from "./secrets.js";

export interface ApplyOptions {
  events?: EventSink | undefined;
  /** Per-environment convergence timeout. */
  timeoutMs?: number | undefined;
  /** Where secret() values are read for the pre-flight; default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
}

export interface DeploymentSummary {
  environment: string;
  deploymentId: string;
  ranAt: string;
  images: PlannedImage[];
}

export interface UpResult {
  project: string;
  target: string;
  backend: string;
  deployments: DeploymentSummary[];
}

/** A sortable deployment id: UTC time to the second, then 4 random hex digits. */
export function newDeploymentId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const random = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
  return `${stamp}-${random}`;
}

export async function applyPlan(plan: Plan, options: ApplyOptions = {}): Promise<UpResult> {
  checkSecrets(plan.environments, options.processEnv);
  const ctx = backendContext(plan, options);
  const backend = backendFor(plan.backend);
  const deployments: DeploymentSummary[] = [];
  for (const env of plan.environments) {
    const began = Date.now();
    const ranAt = new Date(began).toISOString();
    ctx.events({
      type: "stage",
      scope: env.environment,
      message: `deploying to ${plan.target} (${plan.backend})`,
    });
    await runHooks(env.hooks.beforeUp, "beforeUp", env.environment, ctx.events);
    await writeArtifacts(plan.root, plan.backend, env);
    await backend.apply(ctx, env);
    await runHooks(env.hooks.afterUp, "afterUp", env.environment, ctx.events);
    ctx.events({ type: "done", scope: env.environment, message: "deployed", durationMs: Date.now() - began });
    deployments.push({
      environment: env.environment,
      deploymentId: newDeploymentId(new Date(began)),
      ranAt,
      images: env.images,
    });
  }
  return { project: plan.project, target: plan.target, backend: plan.backend, deployments };
}

/** Plan and deploy `environments` (and their dependencies). */
export async function up(options: PlanUpOptions & ApplyOptions): Promise<UpResult> {
  const { plan } = await planUp(options);
  return applyPlan(plan, options);
}
