/**
 * A pipeline's steps as a DAG: each step normalised once (a discriminated
 * union on `action`), validated needs, cycle report, waves. planPipeline is
 * pure; planRun loads the config first.
 */

import { resolve } from "node:path";
import type * as z from "zod";
import { GraphError, topoWaves } from "../base/dag.js";
import { didYouMean } from "../base/did-you-mean.js";
import { parseDuration } from "../base/duration.js";
import { KaupangError } from "../base/errors.js";
import { own } from "../base/merge.js";
import { displayPath } from "../config/load.js";
import type { BackendName } from "../config/model.js";
import { loadProject, type Project } from "../config/project.js";
import type { PipelineSchema } from "../config/schema.js";
import { fieldError } from "../config/validate.js";

type ValidStep = z.output<typeof PipelineSchema>["steps"][string];
type StepAction = "run" | "up" | "down" | "build" | "wait";

interface StepBase {
  name: string;
  /** Display form of what the step does: the command, environment, or wait condition. */
  subject: string;
  needs: string[];
  target?: string;
  backend?: BackendName;
}

/** How a wait step waits, durations parsed and defaults applied. */
export type WaitFor =
  | { kind: "seconds"; ms: number }
  | { kind: "http"; url: string; status: number; intervalMs: number; timeoutMs: number };

/** One step of a pipeline, normalised: one variant per action. */
export type PipelineStep =
  | (StepBase & { action: "run"; run: { command: string; cwd: string; env: Record<string, string> } })
  | (StepBase & {
      action: "up";
      environment: string;
      /** The step's rollbackOnFailure; unset: the target's or the config's. */
      rollbackOnFailure?: boolean;
    })
  | (StepBase & { action: "down"; environment: string })
  | (StepBase & { action: "build"; environment: string; push: boolean })
  | (StepBase & { action: "wait"; wait: WaitFor });

export interface PipelinePlan {
  pipeline: string;
  waves: string[][];
  steps: Record<string, PipelineStep>;
}

const waitDefaults = { status: 200, interval: "2s", timeout: "30s" } as const;

function describeWait(wait: NonNullable<ValidStep["wait"]>): string {
  if ("seconds" in wait) return `${wait.seconds}s`;
  return `http ${wait.http} → ${wait.status ?? waitDefaults.status} (every ${wait.interval ?? waitDefaults.interval}, up to ${wait.timeout ?? waitDefaults.timeout})`;
}

function waitFor(wait: NonNullable<ValidStep["wait"]>): WaitFor {
  if ("seconds" in wait) return { kind: "seconds", ms: wait.seconds * 1000 };
  return {
    kind: "http",
    url: wait.http,
    status: wait.status ?? waitDefaults.status,
    intervalMs: parseDuration(wait.interval ?? waitDefaults.interval),
    timeoutMs: parseDuration(wait.timeout ?? waitDefaults.timeout),
  };
}

/** The variant of a validated step (the schema guarantees exactly one action). */
function stepOf(
  base: StepBase,
  raw: ValidStep,
  root: string,
  at: { file: string; path: string[] },
): PipelineStep {
  if (raw.run !== undefined) {
    // `run` is a command, or { run, cwd, env } as hooks are written.
    const run = typeof raw.run === "string" ? { run: raw.run } : raw.run;
    for (const key of ["cwd", "env"] as const) {
      if (typeof raw.run === "object" && raw.run[key] !== undefined && raw[key] !== undefined) {
        throw fieldError({
          file: at.file,
          path: [...at.path, key],
          message: `${key} is given twice (also as run.${key}); keep one`,
        });
      }
    }
    return {
      ...base,
      action: "run",
      run: {
        command: run.run,
        cwd: resolve(root, run.cwd ?? raw.cwd ?? "."),
        env: { ...raw.env, ...run.env },
      },
    };
  }
  if (raw.up !== undefined)
    return {
      ...base,
      action: "up",
      environment: raw.up,
      ...(raw.rollbackOnFailure !== undefined ? { rollbackOnFailure: raw.rollbackOnFailure } : {}),
    };
  if (raw.down !== undefined) return { ...base, action: "down", environment: raw.down };
  if (raw.build !== undefined)
    return { ...base, action: "build", environment: raw.build, push: raw.push ?? false };
  return { ...base, action: "wait", wait: waitFor(raw.wait!) };
}

export function planPipeline(project: Project, name: string): PipelinePlan {
  const pipelines = project.config.pipelines ?? {};
  const pipeline = own(pipelines, name);
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
    const subject =
      action === "wait"
        ? describeWait(raw.wait!)
        : typeof raw.run === "object"
          ? raw.run.run
          : String(raw[action]);
    const needs =
      raw.needs === undefined ? [] : Array.isArray(raw.needs) ? [...new Set(raw.needs)] : [raw.needs];
    for (const need of needs) {
      if (!Object.hasOwn(pipeline.steps, need)) {
        throw fieldError({
          file,
          path: ["pipelines", name, "steps", stepName, "needs"],
          value: need,
          message: `step "${need}" does not exist${didYouMean(need, Object.keys(pipeline.steps))}`,
        });
      }
    }
    // `action` first after the name, as --dry-run --output json has always shown it.
    const base: StepBase & { action: StepAction } = {
      name: stepName,
      action,
      subject,
      needs,
      ...(raw.target ? { target: raw.target } : {}),
      ...(raw.backend ? { backend: raw.backend } : {}),
    };
    steps[stepName] = stepOf(base, raw, project.root, {
      file,
      path: ["pipelines", name, "steps", stepName, "run"],
    });
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
