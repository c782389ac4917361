/**
 * The read-only front of every command that deploys: load the config (the
 * load step), normalise it for the target and plan it — for environments and
 * their dependencies, or a solution with its pins and env. Touches nothing.
 */

import { didYouMean } from "../base/did-you-mean.js";
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { own } from "../base/merge.js";
import type { BackendName, Model, PullPolicy } from "../config/model.js";

import { loadModel, loadProject, type Project } from "../config/project.js";
import { fieldError } from "../config/validate.js";
import { createPlan } from "../plan/create-plan.js";
import type { Plan } from "../plan/types.js";

export interface TargetOptions {
  /** Directory holding kaupang.config.*; default process.cwd(). */
  cwd?: string | undefined;
  target?: string | undefined;
  backend?: BackendName | undefined;
}

export interface PlanUpOptions extends TargetOptions {
  /** Environments to deploy (with their dependencies); or give `solution`. */
  environments?: string[] | undefined;
  /** A solution (config or catalog): its environments, pins, env and default target. */
  solution?: string | undefined;
  pull?: PullPolicy | undefined;
  events?: EventSink | undefined;
}

export interface Planned {
  project: Project;
  model: Model;
  plan: Plan;
}

/** Load the config and plan a deploy of `environments` (and their dependencies). Touches nothing. */
export async function planUp(options: PlanUpOptions): Promise<Planned> {
  return planProject(await loadProject(options.cwd ?? process.cwd()), options);
}

/** Plan with a project already loaded: a pipeline plans all its steps from one load of the config. */
export async function planProject(project: Project, options: Omit<PlanUpOptions, "cwd">): Promise<Planned> {
  if (options.solution !== undefined) return planSolution(project, options.solution, options);
  const model = await loadModel(project, {
    environments: options.environments ?? [],
    target: options.target,
    backend: options.backend,
    events: options.events,
  });
  return { project, model, plan: createPlan(model, { pull: options.pull }) };
}

/** Plan a solution: its environments and their dependencies, with its pins and env. */
async function planSolution(
  project: Project,
  name: string,
  options: Omit<PlanUpOptions, "cwd">,
): Promise<Planned> {
  const solutions = await project.solutions(options.events);
  const entry = solutions.get(name);
  if (!entry) {
    const known = [...solutions.keys()];
    throw new KaupangError(
      "ERR_UNKNOWN_SOLUTION",
      `unknown solution "${name}"${didYouMean(name, known)}; solutions: ${known.join(", ") || "(none in the config or catalog)"}`,
    );
  }
  const { solution, source } = entry;
  const model = await loadModel(project, {
    environments: solution.environments,
    target: options.target ?? solution.target,
    backend: options.backend,
    extraEnv: solution.env,
    pins: solution.pins,
    events: options.events,
  });
  for (const key of Object.keys(solution.pins ?? {})) {
    const [env, service] = key.split(".") as [string, string | undefined];
    if (!service || !own(own(model.environments, env)?.services, service)) {
      const known = Object.values(model.environments).flatMap((e) =>
        Object.keys(e.services).map((s) => `${e.name}.${s}`),
      );
      throw fieldError({
        file: source,
        path: ["solutions", name, "pins"],
        value: key,
        message: `"${key}" names no service of the solution${didYouMean(key, known)} (use "environment.service")`,
      });
    }
  }
  const plan = createPlan(model, { pull: options.pull });
  plan.solution = { name, version: solution.version };
  return { project, model, plan };
}
