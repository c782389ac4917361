/**
 * `kaupang run <pipeline>`: validate every step up front (targets, environments,
 * plans — all hermetic), then run the step DAG, in parallel where needs allow.
 * `up`/`down`/`build` steps call the very functions `kaupang up/down/build`
 * call: same resolve → pin → apply → ledger path, same locks.
 */
import { errorMessage, KaupangError } from "../base/errors.js";
import { type EventSink, silent } from "../base/events.js";
import { executeDag, type TaskOutcome } from "../base/execute-dag.js";
import { sleep } from "../base/poll.js";
import type { Model } from "../config/model.js";
import { selectTarget } from "../config/normalize.js";
import { loadProject } from "../config/project.js";
import { type BuildPlan, planBuild, runBuild } from "../deploy/build.js";
import { type DownPlan, planDownProject, removePlanned } from "../deploy/down.js";
import { type Planned, planProject } from "../deploy/plan-up.js";
import { type ApplyOptions, deployPlanned } from "../deploy/up.js";
import { runShell, tail } from "../exec/exec.js";
import { type PipelinePlan, type PipelineStep, planPipeline } from "./plan-pipeline.js";

export interface RunPipelineOptions extends ApplyOptions {
  cwd?: string | undefined;
  pipeline: string;
  target?: string | undefined;
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface StepSummary {
  step: string;
  action: PipelineStep["action"];
  subject: string;
  status: TaskOutcome<unknown>["status"];
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  /** Deployments an `up` step recorded (its environment and those it depends on). */
  deployments?: { environment: string; deploymentId: string }[];
  error?: string;
}

export interface PipelineResult {
  pipeline: string;
  target: string;
  status: "succeeded" | "failed" | "interrupted";
  concurrency: number;
  steps: StepSummary[];
}

/** Poll a URL until it answers the wanted status; the error names the URL and the last answer. */
async function waitHttp(
  url: string,
  status: number,
  intervalMs: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  for (;;) {
    try {
      const response = await fetch(url, {
        signal: AbortSignal.timeout(Math.min(intervalMs * 2 + 1000, 10_000)),
      });
      await response.arrayBuffer();
      if (response.status === status) return;
      last = `status ${response.status}`;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      last = cause?.code ?? errorMessage(error);
    }
    if (Date.now() + intervalMs > deadline) {
      throw new KaupangError(
        "ERR_WAIT_TIMEOUT",
        `wait: ${url} did not answer ${status} within ${Math.round(timeoutMs / 1000)}s (last: ${last})`,
      );
    }
    await sleep(intervalMs, signal);
  }
}

export interface PreparedPipeline {
  plan: PipelinePlan;
  root: string;
  target: string;
  /** Plans of `up` steps, made before anything runs (also what --dry-run shows). */
  upPlans: Record<string, Planned>;
  /** Plans of `down` and `build` steps, made before anything runs. */
  downPlans: Record<string, DownPlan & { model: Model }>;
  buildPlans: Record<string, BuildPlan>;
}

/** Validate the pipeline and everything its steps name, from one load of the config; touches nothing. */
export async function preparePipeline(options: RunPipelineOptions): Promise<PreparedPipeline> {
  const project = await loadProject(options.cwd ?? process.cwd());
  const plan = planPipeline(project, options.pipeline);
  const target = selectTarget(project, { target: options.target });
  const prepared: PreparedPipeline = {
    plan,
    root: project.root,
    target: target.name,
    upPlans: {},
    downPlans: {},
    buildPlans: {},
  };
  for (const step of Object.values(plan.steps)) {
    const request = { target: step.target ?? options.target, backend: step.backend };
    if (step.action === "up")
      prepared.upPlans[step.name] = await planProject(project, {
        ...request,
        environments: [step.environment],
      });
    else if (step.action === "down")
      prepared.downPlans[step.name] = await planDownProject(project, {
        ...request,
        environment: step.environment,
      });
    else if (step.action === "build")
      prepared.buildPlans[step.name] = await planBuild(
        { ...request, environment: step.environment, push: step.push },
        project,
      );
  }
  return prepared;
}

export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const prepared = await preparePipeline(options);
  const { plan } = prepared;
  const events = options.events ?? silent;
  const widest = Math.max(...plan.waves.map((w) => w.length));
  const concurrency = Math.max(1, options.concurrency ?? widest);
  const stepEvents =
    (step: string): EventSink =>
    (event) =>
      events({ ...event, scope: event.scope && event.scope !== step ? `${step}/${event.scope}` : step });

  type Deployed = { environment: string; deploymentId: string }[];
  const runStep = async (name: string): Promise<Deployed> => {
    const step = plan.steps[name]!;
    const scoped = stepEvents(name);
    const apply = { ...options, events: scoped };
    switch (step.action) {
      case "run": {
        const result = await runShell(step.run.command, {
          cwd: step.run.cwd,
          env: step.run.env,
          events: scoped,
          scope: name,
          detached: true,
        });
        if (result.signal)
          throw new KaupangError("ERR_STEP_FAILED", `run step ${name} was stopped (${result.signal})`);
        if (result.exitCode !== 0) {
          const last = tail(result.stderr) || tail(result.stdout);
          throw new KaupangError(
            "ERR_STEP_FAILED",
            `run step ${name} exited with code ${result.exitCode}${last ? `: ${last}` : ""}`,
          );
        }
        return [];
      }
      case "up": {
        const result = await deployPlanned(prepared.upPlans[name]!, {
          ...apply,
          cwd: prepared.root,
          command: `kaupang run ${plan.pipeline} (step ${name})`,
          rollbackOnFailure: step.rollbackOnFailure,
        });
        return result.deployments.map((d) => ({ environment: d.environment, deploymentId: d.deploymentId }));
      }
      case "down":
        await removePlanned(prepared.downPlans[name]!, apply);
        return [];
      case "build":
        await runBuild(prepared.buildPlans[name]!, { events: scoped });
        return [];
      case "wait": {
        const { wait } = step;
        if (wait.kind === "seconds") await sleep(wait.ms, options.signal);
        else await waitHttp(wait.url, wait.status, wait.intervalMs, wait.timeoutMs, options.signal);
        return [];
      }
    }
  };

  const outcomes = await executeDag(Object.values(plan.steps), runStep, {
    concurrency,
    ...(options.signal ? { signal: options.signal } : {}),
    onStart: (name) =>
      events({
        type: "stage",
        scope: name,
        message: `${plan.steps[name]!.action} ${plan.steps[name]!.subject}`,
      }),
    onEnd: (name, outcome) => {
      const ms = (outcome.endedAt?.getTime() ?? 0) - (outcome.startedAt?.getTime() ?? 0);
      if (outcome.status === "succeeded")
        events({ type: "done", scope: name, message: "succeeded", durationMs: ms });
      else events({ type: "warning", scope: name, message: `failed: ${errorMessage(outcome.error)}` });
    },
  });
  const steps: StepSummary[] = Object.values(plan.steps).map((step) => {
    const o = outcomes.get(step.name)!;
    return {
      step: step.name,
      action: step.action,
      subject: step.subject,
      status: o.status,
      ...(o.startedAt ? { startedAt: o.startedAt.toISOString() } : {}),
      ...(o.endedAt ? { endedAt: o.endedAt.toISOString() } : {}),
      ...(o.startedAt && o.endedAt ? { durationMs: o.endedAt.getTime() - o.startedAt.getTime() } : {}),
      ...(step.action === "up" && o.status === "succeeded" ? { deployments: o.value as Deployed } : {}),
      ...(o.status === "failed" ? { error: errorMessage(o.error) } : {}),
    };
  });
  const failed = steps.some((s) => s.status === "failed");
  const status = options.signal?.aborted ? "interrupted" : failed ? "failed" : "succeeded";
  return { pipeline: plan.pipeline, target: prepared.target, status, concurrency, steps };
}
