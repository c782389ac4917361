/**
 * The one apply path. `up`, `rollback`, a pipeline's `up` step and
 * `up --bundle` all end here: a `started` record, then hooks, write the
 * artifact, apply, verify what runs, hooks — then the outcome record:
 * succeeded, failed with the step that failed, or interrupted (Ctrl-C,
 * SIGTERM). With `rollbackOnFailure`, a failure after something was applied
 * re-applies the environment's last succeeded unit through this same path —
 * on a site with rollback bounds, the last one within them.
 */
import { isAbsolute, relative } from "node:path";
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendFor } from "../backends/context.js";
import { errorMessage, isKaupangError, KaupangError } from "../base/errors.js";
import { interruptedBy, interruptedError } from "../base/interrupt.js";
import type { Ledger } from "../ledger/ledger.js";
import type { BundleProvenance, LedgerRecord } from "../ledger/record.js";
import type { PlannedImage } from "../plan/types.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { writeArtifacts } from "./artifacts.js";
import { runHooks } from "./hooks.js";
import { hostLabel } from "./hosts.js";
import { newDeploymentId } from "./ids.js";
import { startDeployment } from "./outcome.js";
import { type RollbackBounds, restorePoint, tamperedBundleUnit } from "./rollback-bounds.js";
import { environmentUrls, type ServiceUrl } from "./urls.js";
import { verifyRunning } from "./verify.js";

export interface DeploymentSummary {
  environment: string;
  /** The host it deployed to, for a target with hosts. */
  host?: string;
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
  /** The failed deploy an automatic rollback undoes. */
  trigger?: string;
  source?: string;
  /** Keyed fingerprints of the secret values this deploy uses (recorded, never the values). */
  secrets?: LedgerRecord["secrets"];
  /** When apply, verify or an afterUp hook fails: re-apply the last succeeded unit, then fail. */
  rollbackOnFailure?: boolean;
  /** A site that deploys from bundles: what rollbackOnFailure may restore. */
  bounds?: RollbackBounds | undefined;
  /** The deployment id, when one run records it on several hosts (default: a new one). */
  id?: string | undefined;
  /** The verified bundle the unit came from, recorded with the deploy. */
  bundle?: BundleProvenance;
  /** The host of the target's `hosts` this unit deploys to (a failure's logs command names it). */
  host?: string | undefined;
  /** Instead of the built-in Backend of the unit's backend (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
}

type Step = NonNullable<LedgerRecord["failedStep"]>;

/** "web r/web:1.4 (sha256:9f86d081884c)" per image. */
const imageList = (images: readonly PlannedImage[]) =>
  images.map(
    (i) => `${i.service} ${i.ref}${i.digest && !i.ref.includes("@") ? ` (${i.digest.slice(0, 19)})` : ""}`,
  );

export async function applyUnit(unit: DeploymentUnit, options: ApplyUnitOptions): Promise<DeploymentSummary> {
  const { ctx, ledger } = options;
  const env = unit.environment;
  const scope = env.environment;
  const began = new Date();
  const id = options.id ?? newDeploymentId(began);
  const backend = backendFor(unit.backend, options.backendImpl);
  // What a failure would restore, read before this deploy adds its records.
  const previous = options.rollbackOnFailure
    ? restorePoint((await ledger.read()).records, options.bounds)
    : undefined;
  const unitDigest = await ledger.storeUnit(unit);
  const deployment = await startDeployment(ledger, {
    id,
    at: began.toISOString(),
    project: unit.project,
    environment: scope,
    target: unit.target.name,
    backend: unit.backend,
    action: options.action,
    ...(options.rollbackOf ? { rollbackOf: options.rollbackOf } : {}),
    ...(options.trigger ? { trigger: options.trigger } : {}),
    ...(options.source ? { source: options.source } : {}),
    ...(options.bundle ? { bundle: options.bundle } : {}),
    images: env.images,
    unit: unitDigest,
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });

  ctx.events({
    type: "stage",
    scope,
    // A deploy names its id at once (a run killed later can be found in history); a rollback
    // names the deployment it returns to, and its own id when it is done.
    message:
      options.action === "rollback"
        ? `rolling back to ${options.rollbackOf} on ${unit.target.name} (${unit.backend})`
        : `deploying to ${unit.target.name} (${unit.backend}) as ${id}`,
  });
  const hookEnv = {
    KAUPANG_DEPLOYMENT_ID: id,
    KAUPANG_ENVIRONMENT: scope,
    KAUPANG_TARGET: unit.target.name,
    KAUPANG_ACTION: options.action,
  };
  let step: Step = "hook";
  let applied = false;
  try {
    await runHooks(env.hooks.beforeUp, "beforeUp", scope, ctx.events, hookEnv, ctx.root);
    step = "apply";
    await writeArtifacts(ctx.root, env);
    applied = true;
    await backend.apply(ctx, env);
    step = "verify";
    await verifyRunning(backend, ctx, env);
    step = "hook";
    await runHooks(env.hooks.afterUp, "afterUp", scope, ctx.events, hookEnv, ctx.root);
  } catch (error) {
    const signal = interruptedBy();
    if (signal) {
      await deployment.finish("interrupted", {
        failedStep: step,
        error: `interrupted (${signal}) during ${step}: ${errorMessage(error)}`,
      });
      throw interruptedError(`while deploying ${scope} (${id}, recorded as interrupted)`);
    }
    await deployment.finish("failed", { failedStep: step, error: errorMessage(error) });
    const failure = withLogsCommand(error, unit, ctx.root, options.host);
    if (!options.rollbackOnFailure) throw failure;
    throw await rollBackAfter(failure, { unit, options, failedId: id, applied, previous });
  }
  await deployment.finish("succeeded");
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
    urls: environmentUrls(unit),
  };
}

/**
 * After a failed deploy: re-apply the last succeeded unit of the environment
 * and return the error to throw — the original failure, saying what was
 * restored (or why nothing was).
 */
async function rollBackAfter(
  error: unknown,
  failure: {
    unit: DeploymentUnit;
    options: ApplyUnitOptions;
    failedId: string;
    applied: boolean;
    previous: ReturnType<typeof restorePoint> | undefined;
  },
): Promise<unknown> {
  const { options, failedId } = failure;
  const previous = failure.previous?.record;
  const refused = failure.previous?.refused;
  const scope = failure.unit.environment.environment;
  const say = (what: string) => {
    const message = `${errorMessage(error)}; ${what}`;
    return isKaupangError(error)
      ? new KaupangError(error.code, message, {
          ...(error.hint ? { hint: error.hint } : {}),
          details: { ...error.details, rolledBack: what },
          cause: error,
          exitCode: error.exitCode,
        })
      : new KaupangError("ERR_DEPLOY_FAILED", message, { cause: error });
  };
  if (!failure.applied) return say("nothing was applied, so nothing was rolled back");
  if (!previous && refused && options.bounds)
    return say(
      `nothing was rolled back: no earlier succeeded deploy is within this site's rollback bounds (${refused.id} ${options.bounds.refusal})`,
    );
  if (!previous) return say("no earlier succeeded deploy to roll back to");
  const unit = await options.ledger.readUnit(previous);
  const tampered = tamperedBundleUnit(previous, unit);
  if (tampered) return say(`nothing was rolled back: ${options.ledger.location}: ${tampered}`);
  options.ctx.events({
    type: "warning",
    scope,
    message: `deploy ${failedId} failed: rolling back to ${previous.id} (${imageList(unit.environment.images).join(", ")})${refused && options.bounds ? `, not to ${refused.id}, which ${options.bounds.refusal}` : ""}`,
  });
  try {
    const restored = await applyUnit(unit, {
      ctx: options.ctx,
      ledger: options.ledger,
      action: "rollback",
      rollbackOf: previous.id,
      trigger: failedId,
      // What it returns to came from a bundle (or not) as recorded then.
      ...(previous.source ? { source: previous.source } : {}),
      ...(previous.bundle ? { bundle: previous.bundle } : {}),
      backendImpl: options.backendImpl,
      host: options.host,
      ...(options.secrets ? { secrets: options.secrets } : {}),
    });
    options.ctx.events({
      type: "warning",
      scope,
      message: `restored ${previous.id} as ${restored.deploymentId}: ${imageList(unit.environment.images).join(", ")}`,
    });
    return say(`rolled back to ${previous.id} (recorded as ${restored.deploymentId})`);
  } catch (rollbackError) {
    if (interruptedBy()) return rollbackError;
    return say(`the rollback to ${previous.id} failed too: ${errorMessage(rollbackError)}`);
  }
}

/**
 * A failure that names a service ends with the command that shows its logs,
 * as the user would type it (the target when it is not the default, the
 * project directory when it is not where they are).
 */
function withLogsCommand(
  error: unknown,
  unit: DeploymentUnit,
  root: string,
  host: string | undefined,
): unknown {
  if (!isKaupangError(error) || error.details.service === undefined) return error;
  // An image that could not be pulled never started: there are no logs to see.
  if (error.code === "ERR_IMAGE_PULL") return error;
  const target = `${unit.target.name === "local" ? "" : ` --target ${unit.target.name}`}${host ? ` --hosts ${hostLabel(host)}` : ""}`;
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
  options: Pick<ApplyUnitOptions, "ctx" | "ledger" | "source" | "bundle" | "secrets" | "id">,
): Promise<DeploymentSummary> {
  const began = new Date();
  const id = options.id ?? newDeploymentId(began);
  await options.ledger.append({
    id,
    at: began.toISOString(),
    project: unit.project,
    environment: unit.environment.environment,
    target: unit.target.name,
    backend: unit.backend,
    action: "up",
    status: "unchanged",
    ...(options.source ? { source: options.source } : {}),
    ...(options.bundle ? { bundle: options.bundle } : {}),
    images: unit.environment.images,
    unit: await options.ledger.storeUnit(unit),
    ...(options.secrets ? { secrets: options.secrets } : {}),
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
    urls: environmentUrls(unit),
  };
}
