/**
 * The one apply path. `up`, `rollback`, a pipeline's `up` step and
 * `up --bundle` all end here: hooks, write the artifact, apply, verify what
 * runs, hooks — then one ledger record, succeeded or failed with the step
 * that failed.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendFor } from "../backends/context.js";
import { errorMessage } from "../base/errors.js";
import type { Ledger } from "../ledger/ledger.js";
import type { LedgerRecord } from "../ledger/record.js";
import type { PlannedImage } from "../plan/types.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { writeArtifacts } from "./artifacts.js";
import { runHooks } from "./hooks.js";
import { newDeploymentId } from "./ids.js";
import { environmentUrls, type ServiceUrl } from "./urls.js";
import { verifyRunning } from "./verify.js";

export interface DeploymentSummary {
  environment: string;
  deploymentId: string;
  ranAt: string;
  images: PlannedImage[];
  /** Where it answers: route URLs, and published ports of services without a route. */
  urls: ServiceUrl[];
}

interface ApplyUnitOptions {
  ctx: BackendContext;
  ledger: Ledger;
  action: "up" | "rollback";
  rollbackOf?: string;
  source?: string;
  /** Instead of the built-in Backend of the unit's backend (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
}

type Step = NonNullable<LedgerRecord["failedStep"]>;

export async function applyUnit(unit: DeploymentUnit, options: ApplyUnitOptions): Promise<DeploymentSummary> {
  const { ctx, ledger } = options;
  const env = unit.environment;
  const scope = env.environment;
  const began = new Date();
  const id = newDeploymentId(began);
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
    throw error;
  }
  record("succeeded");
  ctx.events({ type: "done", scope, message: `deployed as ${id}`, durationMs: Date.now() - began.getTime() });
  return {
    environment: scope,
    deploymentId: id,
    ranAt: began.toISOString(),
    images: env.images,
    urls: environmentUrls(unit),
  };
}

/** Record that a deploy found nothing to change (same pinned unit, no drift) and applied nothing. */
export async function recordUnchanged(
  unit: DeploymentUnit,
  options: Pick<ApplyUnitOptions, "ctx" | "ledger" | "source">,
): Promise<DeploymentSummary> {
  const began = new Date();
  const id = newDeploymentId(began);
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
    deploymentId: id,
    ranAt: began.toISOString(),
    images: unit.environment.images,
    urls: environmentUrls(unit),
  };
}
