/**
 * The library surface the CLI (and anyone scripting kaupang) calls: each
 * function takes an options object and returns data. No argv, no printing,
 * no process.exit here.
 */
import type { BackendName, Model, PullPolicy } from "./config/model.js";
import { createModel } from "./config/normalize.js";
import { loadProject, type Project } from "./config/project.js";
import { type PipelinePlan, planPipeline } from "./pipeline/plan-pipeline.js";
import { createPlan } from "./plan/create-plan.js";
import type { Plan } from "./plan/types.js";

export interface TargetOptions {
  /** Directory holding kaupang.config.*; default process.cwd(). */
  cwd?: string | undefined;
  target?: string | undefined;
  backend?: BackendName | undefined;
}

export interface PlanUpOptions extends TargetOptions {
  environments: string[];
  pull?: PullPolicy | undefined;
}

export interface Planned {
  project: Project;
  model: Model;
  plan: Plan;
}

/** Load the config and plan a deploy of `environments` (and their dependencies). Touches nothing. */
export async function planUp(options: PlanUpOptions): Promise<Planned> {
  const project = await loadProject(options.cwd ?? process.cwd());
  const model = await createModel(project, {
    environments: options.environments,
    target: options.target,
    backend: options.backend,
  });
  return { project, model, plan: createPlan(model, { pull: options.pull }) };
}

/** Load the config and plan a pipeline run. Touches nothing. */
export async function planRun(options: {
  cwd?: string | undefined;
  pipeline: string;
}): Promise<PipelinePlan> {
  const project = await loadProject(options.cwd ?? process.cwd());
  return planPipeline(project, options.pipeline);
}
