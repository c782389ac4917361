/**
 * `kaupang up`: plan (hermetic), check secrets, take the environments' locks,
 * pin every image (resolve tags to digests, or take them from --from, or pin
 * local builds by image ID with --no-resolve), then apply environment by
 * environment through the one apply path, recording each in its ledger.
 */
import type { Backend, BackendContext } from "../backends/backend.js";
import { backendContext, backendFor } from "../backends/context.js";
import { errorMessage, isKaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { type Ledger, unitDigest } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";
import { createPlan } from "../plan/create-plan.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { applyUnit, type DeploymentSummary, recordUnchanged } from "./apply-unit.js";
import { driftOf } from "./drift.js";
import { newDeploymentId } from "./ids.js";
import { lockEnvironments } from "./locks.js";
import { type PinOptions, type Pins, pinImages } from "./pin.js";
import { type Planned, type PlanUpOptions, planUp } from "./plan-up.js";
import { checkSecrets } from "./secrets.js";
import { ledgerFor } from "./state-location.js";

export type { DeploymentSummary } from "./apply-unit.js";

export interface ApplyOptions {
  events?: EventSink | undefined;
  /** Deploy through this Backend instead of the built-in one for the plan's backend (an in-memory fake in tests). */
  backendImpl?: Backend | undefined;
  /** Per-environment convergence timeout, and how long to wait for another deploy's lock. */
  timeoutMs?: number | undefined;
  /** Where secret() values are read for the pre-flight; default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
  /** The running kaupang's version, recorded in the ledger. */
  kaupangVersion?: string | undefined;
  /** The command line, recorded in lock files so a blocked run can name it. */
  command?: string | undefined;
}

export interface UpOptions extends PlanUpOptions, ApplyOptions, Omit<PinOptions, "events" | "cwd"> {
  /** Apply even when nothing changed since the last deploy. */
  force?: boolean | undefined;
}

/** The spec's `up --output json` shape. */
export interface UpResult {
  project: string;
  target: string;
  backend: string;
  deployments: DeploymentSummary[];
}

/** Deploy a planned config (see `up`). */
export async function deployPlanned(planned: Planned, options: UpOptions): Promise<UpResult> {
  const { model, plan } = planned;
  // Kubernetes reads secret values from the cluster's Secret (its backend checks that); the others from this process.
  if (plan.backend !== "kubernetes") checkSecrets(plan.environments, options.processEnv);
  const ctx = backendContext(plan, options);
  const locks = await lockEnvironments(model.cacheDir, plan.target, plan.environmentOrder, options);
  const backend = backendFor(plan.backend, options.backendImpl);
  backend.prepare?.(ctx);
  try {
    let pins: Pins;
    try {
      pins = await pinImages(model, plan, options);
    } catch (error) {
      // Nothing was deployed; record the failed resolution where it happened.
      const owner = isKaupangError(error) ? error.details.environment : undefined;
      if (owner && plan.environmentOrder.includes(owner)) {
        const env = plan.environments.find((e) => e.environment === owner)!;
        ledgerFor(plan, model, owner, plan.target, options.kaupangVersion).append({
          id: newDeploymentId(),
          at: new Date().toISOString(),
          project: plan.project,
          environment: owner,
          target: plan.target,
          backend: plan.backend,
          action: "up",
          status: "failed",
          failedStep: "resolve",
          error: errorMessage(error),
          images: env.images,
        });
      }
      throw error;
    }
    const pinnedPlan = createPlan(model, { pull: plan.pull, pinned: pins });
    await backend.preflight?.(ctx, pinnedPlan.environments);
    const deployments: DeploymentSummary[] = [];
    for (const env of pinnedPlan.environments) {
      const unit: DeploymentUnit = {
        project: pinnedPlan.project,
        target: pinnedPlan.targetSettings,
        backend: pinnedPlan.backend,
        pull: pinnedPlan.pull,
        environment: env,
      };
      const ledger = ledgerFor(plan, model, env.environment, plan.target, options.kaupangVersion);
      if (!options.force && (await isUnchanged(ledger, unit, ctx, backend))) {
        deployments.push(await recordUnchanged(unit, { ctx, ledger }));
        continue;
      }
      deployments.push(
        await applyUnit(unit, { ctx, ledger, action: "up", backendImpl: options.backendImpl }),
      );
    }
    return { project: plan.project, target: plan.target, backend: plan.backend, deployments };
  } finally {
    for (const lock of locks) lock.release();
  }
}

/**
 * Nothing to do when the pinned unit equals the current deploy's and a live
 * check finds no drift: a re-run of an unchanged pipeline touches nothing.
 */
async function isUnchanged(
  ledger: Ledger,
  unit: DeploymentUnit,
  ctx: BackendContext,
  backend: Backend,
): Promise<boolean> {
  const read = ledger.read();
  ledger.verify(read);
  const current = currentRecord(read.records);
  if (!current?.unit) return false;
  const digest = unitDigest(unit);
  // A unit an older kaupang recorded has another digest for the same deploy: compare it completed.
  if (current.unit !== digest && unitDigest(ledger.readUnit(current)) !== digest) return false;
  const drift = await driftOf(backend, ctx, unit);
  if (drift.length === 0) return true;
  ctx.events({
    type: "stage",
    scope: unit.environment.environment,
    message: `unchanged config, but it drifted (${drift.map((d) => `${d.service}: ${d.detail}`).join("; ")}): applying`,
  });
  return false;
}

/** Plan and deploy `environments` (and their dependencies). */
export async function up(options: UpOptions): Promise<UpResult> {
  return deployPlanned(await planUp(options), options);
}
