/** A pipeline's steps as a DAG: validated needs, cycle report, waves. Pure. */
import type * as z from "zod";
import { GraphError, topoWaves } from "../base/dag.js";
import { didYouMean } from "../base/did-you-mean.js";
import { KaupangError } from "../base/errors.js";
import { displayPath } from "../config/load.js";
import type { BackendName } from "../config/model.js";
import { loadProject, type Project } from "../config/project.js";
import type { PipelineSchema } from "../config/schema.js";
import { fieldError } from "../config/validate.js";

type ValidStep = z.output<typeof PipelineSchema>["steps"][string];
export type StepAction = "run" | "up" | "down" | "build" | "wait";

export interface PipelineStep {
  name: string;
  action: StepAction;
  /** The command, environment, or wait condition. */
  subject: string;
  needs: string[];
  target?: string;
  backend?: BackendName;
  raw: ValidStep;
}

export interface PipelinePlan {
  pipeline: string;
  waves: string[][];
  steps: Record<string, PipelineStep>;
}

function describeWait(wait: NonNullable<ValidStep["wait"]>): string {
  if ("seconds" in wait) return `${wait.seconds}s`;
  return `http ${wait.http} → ${wait.status ?? 200} (every ${wait.interval ?? "2s"}, up to ${wait.timeout ?? "30s"})`;
}

export function planPipeline(project: Project, name: string): PipelinePlan {
  const pipelines = project.config.pipelines ?? {};
  const pipeline = pipelines[name];
  const file = displayPath(project.root, project.configFile);
  if (!pipeline) {
    const known = Object.keys(pipelines);
    throw new KaupangError(
      "ERR_UNKNOWN_PIPELINE",
      `unknown pipeline "${name}"${didYouMean(name, known)}; pipelines: ${known.join(", ") || "(none configured)"}`,
    );
  }
  const steps: Record<string, PipelineStep> = {};
  for (const [stepName, raw] of Object.entries(pipeline.steps)) {
    const action = (["run", "up", "down", "build", "wait"] as const).find((a) => raw[a] !== undefined)!;
    const subject = action === "wait" ? describeWait(raw.wait!) : String(raw[action]);
    const needs =
      raw.needs === undefined ? [] : Array.isArray(raw.needs) ? [...new Set(raw.needs)] : [raw.needs];
    for (const need of needs) {
      if (!(need in pipeline.steps)) {
        throw fieldError({
          file,
          path: ["pipelines", name, "steps", stepName, "needs"],
          value: need,
          message: `step "${need}" does not exist${didYouMean(need, Object.keys(pipeline.steps))}`,
        });
      }
    }
    steps[stepName] = {
      name: stepName,
      action,
      subject,
      needs,
      ...(raw.target ? { target: raw.target } : {}),
      ...(raw.backend ? { backend: raw.backend } : {}),
      raw,
    };
  }
  let waves: string[][];
  try {
    waves = topoWaves(new Map(Object.values(steps).map((s) => [s.name, s.needs])));
  } catch (error) {
    if (error instanceof GraphError && error.problem.kind === "cycle") {
      throw fieldError(
        {
          file,
          path: ["pipelines", name, "steps"],
          message: `step cycle: ${error.problem.cycle.join(" → ")}`,
        },
        { cycle: { kind: "steps", nodes: error.problem.cycle } },
      );
    }
    throw error;
  }
  return { pipeline: name, waves, steps };
}

/** Load the config and plan a pipeline run. Touches nothing. */
export async function planRun(options: {
  cwd?: string | undefined;
  pipeline: string;
}): Promise<PipelinePlan> {
  const project = await loadProject(options.cwd ?? process.cwd());
  return planPipeline(project, options.pipeline);
}
