/**
 * The one apply path. `up`, `rollback`, a pipeline's `up` step and
 * `up --bundle` all end here: hooks, write the artifact, apply, verify what
 * runs, hooks — then one ledger record, succeeded or failed with the step
 * that failed.
 */
import { isAbsolute, relative } from "node:path";
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendFor } from "../backends/context.js";
import { errorMessage, isKaupangError, KaupangError } from "../base/errors.js";
import type { Ledger } from "../ledger/ledger.js";
import type { LedgerRecord } from "../ledger/record.js";
import type { PlannedImage } from "../plan/types.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { writeArtifacts } from "./artifacts.js";
import { runHooks } from "./hooks.js";
import { newDeploymentId } from "./ids.js";
import { verifyRunning } from "./verify.js";

export interface DeploymentSummary {
  environment: string;
  /** The host it deployed to, for a target with hosts. */
  host?: string;
  deploymentId: string;
  ranAt: string;
  images: PlannedImage[];
}

interface ApplyUnitOptions {
  ctx: BackendContext;
  ledger: Ledger;
  action: "up" | "rollback";
  rollbackOf?: string;
  source?: string;
  /** The deployment id, when one run records it on several hosts (default: a new one). */
  id?: string | undefined;
  /** Instead of the built-in Backend of the unit's backend (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
}

type Step = NonNullable<LedgerRecord["failedStep"]>;

export async function applyUnit(unit: DeploymentUnit, options: ApplyUnitOptions): Promise<DeploymentSummary> {
  const { ctx, ledger } = options;
  const env = unit.environment;
  const scope = env.environment;
  const began = new Date();
  const id = options.id ?? newDeploymentId(began);
  const backend = backendFor(unit.backend, options.backendImpl);
  const unitDigest = await ledger.storeUnit(unit);
  const record = (status: "succeeded" | "failed", failure?: { step: Step; error: string }) =>
    ledger.append({
      id,
      at: began.toISOString(),
      project: unit.project,
      environment: scope,
      target: unit.target.name,
      backend: unit.backend,
      action: options.action,
      status,
      ...(failure ? { failedStep: failure.step, error: failure.error } : {}),
      ...(options.rollbackOf ? { rollbackOf: options.rollbackOf } : {}),
      ...(options.source ? { source: options.source } : {}),
      images: env.images,
      unit: unitDigest,
    });

  ctx.events({
    type: "stage",
    scope,
    message: `${options.action === "rollback" ? `rolling back to ${options.rollbackOf} on` : "deploying to"} ${unit.target.name} (${unit.backend})`,
  });
  let step: Step = "hook";
  try {
    await runHooks(env.hooks.beforeUp, "beforeUp", scope, ctx.events);
    step = "apply";
    await writeArtifacts(ctx.root, env);
    await backend.apply(ctx, env);
    step = "verify";
    await verifyRunning(backend, ctx, env);
    step = "hook";
    await runHooks(env.hooks.afterUp, "afterUp", scope, ctx.events);
  } catch (error) {
    record("failed", { step, error: errorMessage(error) });
    throw withLogsCommand(error, unit, ctx.root);
  }
  record("succeeded");
  ctx.events({
    type: "done",
    scope,
    message:
      options.action === "rollback"
        ? `rolled back to ${options.rollbackOf} (recorded as ${id})`
        : `deployed as ${id}`,
    durationMs: Date.now() - began.getTime(),
  });
  return {
    environment: scope,
    ...(unit.target.dockerHost ? { host: unit.target.dockerHost } : {}),
    deploymentId: id,
    ranAt: began.toISOString(),
    images: env.images,
  };
}

/**
 * A failure that names a service ends with the command that shows its logs,
 * as the user would type it (the target when it is not the default, the
 * project directory when it is not where they are).
 */
function withLogsCommand(error: unknown, unit: DeploymentUnit, root: string): unknown {
  if (!isKaupangError(error) || error.details.service === undefined) return error;
  const target = unit.target.name === "local" ? "" : ` --target ${unit.target.name}`;
  const here = relative(root, process.cwd());
  const cwd = here === "" || !(here.startsWith("..") || isAbsolute(here)) ? "" : ` --cwd ${root}`;
  const command = `kaupang logs ${unit.environment.environment} ${error.details.service}${target}${cwd}`;
  return new KaupangError(error.code, error.message, {
    hint: error.hint ? `${error.hint}; all of them: ${command}` : `see its logs: ${command}`,
    cause: error,
    exitCode: error.exitCode,
    details: error.details,
  });
}

/** Record that a deploy found nothing to change (same pinned unit, no drift) and applied nothing. */
export async function recordUnchanged(
  unit: DeploymentUnit,
  options: Pick<ApplyUnitOptions, "ctx" | "ledger" | "source" | "id">,
): Promise<DeploymentSummary> {
  const began = new Date();
  const id = options.id ?? newDeploymentId(began);
  options.ledger.append({
    id,
    at: began.toISOString(),
    project: unit.project,
    environment: unit.environment.environment,
    target: unit.target.name,
    backend: unit.backend,
    action: "up",
    status: "unchanged",
    ...(options.source ? { source: options.source } : {}),
    images: unit.environment.images,
    unit: await options.ledger.storeUnit(unit),
  });
  options.ctx.events({
    type: "done",
    scope: unit.environment.environment,
    message: "unchanged: nothing to apply (use --force to apply anyway)",
    durationMs: Date.now() - began.getTime(),
  });
  return {
    environment: unit.environment.environment,
    ...(unit.target.dockerHost ? { host: unit.target.dockerHost } : {}),
    deploymentId: id,
    ranAt: began.toISOString(),
    images: unit.environment.images,
  };
}
