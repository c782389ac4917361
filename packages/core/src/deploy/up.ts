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
import { executeDag } from "../base/execute-dag.js";
import { interruptedBy } from "../base/interrupt.js";
import type { Model } from "../config/model.js";
import { type Ledger, unitDigest } from "../ledger/ledger.js";
import { currentRecord, deployments } from "../ledger/record.js";
import { planStoreLocation } from "../ledger/state-store.js";
import { createPlan } from "../plan/create-plan.js";
import type { Plan } from "../plan/types.js";
import { type DeploymentUnit, portableUnit } from "../plan/unit.js";
import { applyUnit, type DeploymentSummary, recordUnchanged } from "./apply-unit.js";
import { driftOf } from "./drift.js";
import { eachHost, type HostsFailure, type Placement, placedContext, placementsOf } from "./hosts.js";
import { newDeploymentId } from "./ids.js";
import { lockEnvironments } from "./locks.js";
import { type PinOptions, type Pins, pinImages } from "./pin.js";
import { type Planned, type PlanUpOptions, planUp } from "./plan-up.js";
import { registryLogins } from "./registry-logins.js";
import { type RollbackBounds, restorePoint, siteBounds } from "./rollback-bounds.js";
import {
  currentFingerprints,
  fingerprintMap,
  type SecretFingerprints,
  secretChanges,
} from "./secret-fingerprints.js";
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
  /**
   * When apply, verify or an afterUp hook fails, re-apply the environment's
   * last succeeded unit (recorded as a rollback) and still fail. Default: the
   * target's or the config's `rollbackOnFailure`, else false.
   */
  rollbackOnFailure?: boolean | undefined;
  /**
   * How many environments may deploy at once: those of one wave (none
   * depends on another) run side by side. Default 8; 1 deploys one after the
   * other in dependency order.
   */
  concurrency?: number | undefined;
  /** Only these of the target's hosts (`--hosts`): URLs or host names. */
  hosts?: readonly string[] | undefined;
}

export const defaultConcurrency = 8;

/** The spec's `up --output json` shape. */
export interface UpResult {
  project: string;
  target: string;
  backend: string;
  deployments: DeploymentSummary[];
}

/**
 * Whether a failed apply re-applies the last succeeded unit: the run's flag,
 * else the target's `rollbackOnFailure`, else the config's.
 */
export function rollbackOnFailureFor(
  config: Planned["project"]["config"] | undefined,
  target: string,
  flag: boolean | undefined,
): boolean {
  if (flag !== undefined) return flag;
  return config?.targets?.[target]?.rollbackOnFailure ?? config?.rollbackOnFailure ?? false;
}

/** Deploy a planned config (see `up`); to each of the target's hosts in turn when it has some. */
export async function deployPlanned(planned: Planned, options: UpOptions): Promise<UpResult> {
  const { model, plan } = planned;
  // Kubernetes reads secret values from the cluster's Secret (its backend checks that); the others from this process.
  if (plan.backend !== "kubernetes") checkSecrets(plan.environments, options.processEnv);
  const placements = placementsOf(plan.targetSettings, options.hosts);
  const ctx = backendContext(plan, options);
  const placed = placements.map((p) => placedContext(ctx, p));
  const location = planStoreLocation(model, plan);
  const locks = await lockEnvironments(location, plan.target, plan.environmentOrder, {
    ...options,
    hosts: placements.map((p) => p.host),
  });
  const backend = backendFor(plan.backend, options.backendImpl);
  backend.prepare?.(placed[0]!);
  try {
    let pins: Pins;
    try {
      pins = await pinImages(model, plan, options);
    } catch (error) {
      // Nothing was deployed; record the failed resolution where it happened.
      const owner = isKaupangError(error) ? error.details.environment : undefined;
      if (owner && plan.environmentOrder.includes(owner)) {
        const env = plan.environments.find((e) => e.environment === owner)!;
        for (const placement of placements) {
          await ledgerFor(plan, model, owner, plan.target, options.kaupangVersion, placement.host).append({
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
      }
      throw error;
    }
    // Fingerprints of every secret() value, read once: they count as change, and
    // Kubernetes pod templates carry a checksum of them.
    const allSecrets = [...new Set(plan.environments.flatMap((e) => e.secrets))];
    const fingerprints = await currentFingerprints(backend, placed[0]!, allSecrets, options.processEnv);
    // Images resolve once for every host: each host runs the same digests, and each
    // environment's records on the hosts share one deployment id.
    const pinnedPlan = createPlan(model, {
      pull: plan.pull,
      pinned: pins,
      secrets: fingerprintMap(fingerprints),
      registryLogins: await registryLogins(plan),
    });
    // The backend's checks of every host before anything is deployed on any (the proxy's, for routes).
    for (const hostCtx of placed) await backend.preflight?.(hostCtx, pinnedPlan.environments);
    const rollbackOnFailure = rollbackOnFailureFor(
      planned.project.config,
      plan.target,
      options.rollbackOnFailure,
    );
    // A target that requires signed bundles restores only what such a bundle carried in.
    const bounds = rollbackOnFailure
      ? siteBounds({ root: planned.project.root, target: plan.target, project: planned.project })
      : undefined;
    const ids = new Map(plan.environmentOrder.map((name) => [name, newDeploymentId()]));
    const doneOn = new Map<string, DeploymentSummary[]>();
    const perHost = await eachHost(
      placements,
      async (placement) => {
        const summaries = await deployEnvironments(
          pinnedPlan,
          placement,
          placed[placements.indexOf(placement)]!,
          backend,
          {
            ...options,
            state: model,
            ids: placement.host ? ids : undefined,
            rollbackOnFailure,
            bounds,
            fingerprints,
          },
        );
        if (placement.host) doneOn.set(placement.host, summaries);
        return summaries;
      },
      {
        events: ctx.events,
        what: "up",
        onFailure: rollbackOnFailure
          ? (failure) =>
              restoreDoneHosts(
                failure,
                doneOn,
                (host) => placed[placements.findIndex((p) => p.host === host)]!,
                {
                  ledgerOf: (name, host) =>
                    ledgerFor(plan, model, name, plan.target, options.kaupangVersion, host),
                  secretsOf: async (unit) => only(fingerprints, unit.environment.secrets),
                  backendImpl: options.backendImpl,
                  bounds,
                },
              )
          : undefined,
      },
    );
    return { project: plan.project, target: plan.target, backend: plan.backend, deployments: perHost.flat() };
  } finally {
    for (const lock of locks) await lock.release();
  }
}

/**
 * Rollback on failure on a target with hosts: the host that failed rolled
 * itself back (applyUnit); the hosts done before it run the new version, so
 * each is restored from its own ledger to what ran there before this run,
 * dependents first, through the same apply path (recorded as rollbacks with
 * the run's id as `trigger`). Returns what the error's hint adds.
 */
export async function restoreDoneHosts(
  failure: HostsFailure,
  doneOn: ReadonlyMap<string, readonly DeploymentSummary[]>,
  contextOf: (host: string) => BackendContext,
  run: {
    /** The ledger of an environment on one host. */
    ledgerOf: (environment: string, host: string) => Ledger;
    /** The fingerprints to record with a restored unit. */
    secretsOf: (unit: DeploymentUnit, ctx: BackendContext) => Promise<SecretFingerprints | undefined>;
    backendImpl: Backend | undefined;
    /** A site that deploys from bundles: restore only within its rollback bounds. */
    bounds?: RollbackBounds | undefined;
  },
): Promise<string | undefined> {
  const restored: string[] = [];
  const kept: string[] = [];
  for (const { host } of [...failure.done].reverse()) {
    if (!host) continue;
    const ctx = contextOf(host);
    for (const summary of [...(doneOn.get(host) ?? [])].reverse()) {
      const name = summary.environment;
      const ledger = run.ledgerOf(name, host);
      const { records } = await ledger.read();
      const at = records.findIndex((r) => r.id === summary.deploymentId);
      const deploy = deployments(records).find((r) => r.id === summary.deploymentId);
      // An unchanged environment was not touched by this run: nothing to undo.
      if (at === -1 || deploy?.status !== "succeeded") continue;
      const { record: previous, refused } = restorePoint(records.slice(0, at), run.bounds);
      if (!previous) {
        kept.push(
          refused && run.bounds
            ? `${name} on ${host} (nothing within this site's rollback bounds ran there before: ${refused.id} ${run.bounds.refusal})`
            : `${name} on ${host} (nothing ran there before)`,
        );
        continue;
      }
      const unit = await ledger.readUnit(previous);
      ctx.events({
        type: "warning",
        scope: name,
        message: `the run failed on ${failure.failed.host}: restoring ${previous.id} here`,
      });
      try {
        const secrets = await run.secretsOf(unit, ctx);
        await applyUnit(unit, {
          ctx,
          ledger,
          action: "rollback",
          rollbackOf: previous.id,
          trigger: summary.deploymentId,
          ...(previous.source ? { source: previous.source } : {}),
          ...(previous.bundle ? { bundle: previous.bundle } : {}),
          backendImpl: run.backendImpl,
          ...(secrets ? { secrets } : {}),
        });
        restored.push(`${name} on ${host}`);
      } catch (error) {
        if (interruptedBy()) throw error;
        kept.push(`${name} on ${host} (its rollback failed: ${errorMessage(error)})`);
      }
    }
  }
  const parts = [
    ...(restored.length > 0 ? [`restored the earlier version of ${restored.join(", ")}`] : []),
    ...(kept.length > 0 ? [`not restored: ${kept.join(", ")}`] : []),
  ];
  return parts.length > 0 ? parts.join("; ") : undefined;
}

/** The fingerprints of just `names`. */
function only(
  fingerprints: SecretFingerprints | undefined,
  names: readonly string[],
): SecretFingerprints | undefined {
  if (!fingerprints || names.length === 0) return undefined;
  return {
    key: fingerprints.key,
    values: Object.fromEntries(
      names.flatMap((n) => (fingerprints.values[n] ? [[n, fingerprints.values[n]]] : [])),
    ),
  };
}

/**
 * Deploy the plan's environments to one placement: each as soon as those it
 * depends on succeeded, at most `concurrency` at once. After a failure no
 * environment starts; those running finish (and are recorded), as a
 * pipeline's steps do. Returns the summaries in dependency order.
 */
async function deployEnvironments(
  plan: Plan,
  placement: Placement,
  ctx: BackendContext,
  backend: Backend,
  options: UpOptions & {
    /** Where the ledgers live (cacheDir, or the target when it keeps its state). */
    state: Pick<Model, "cacheDir" | "target">;
    ids: Map<string, string> | undefined;
    rollbackOnFailure: boolean;
    bounds: RollbackBounds | undefined;
    fingerprints: SecretFingerprints | undefined;
  },
): Promise<DeploymentSummary[]> {
  const byName = new Map(plan.environments.map((e) => [e.environment, e]));
  const deployOne = async (name: string): Promise<DeploymentSummary> => {
    const env = byName.get(name)!;
    const unit: DeploymentUnit = portableUnit(
      {
        project: plan.project,
        target: placement.target,
        backend: plan.backend,
        pull: plan.pull,
        environment: env,
      },
      plan.root,
    );
    const ledger = ledgerFor(plan, options.state, name, plan.target, options.kaupangVersion, placement.host);
    const id = options.ids?.get(name);
    const secrets = only(options.fingerprints, env.secrets);
    if (!options.force && (await isUnchanged(ledger, unit, ctx, backend, secrets)))
      return recordUnchanged(unit, { ctx, ledger, id, ...(secrets ? { secrets } : {}) });
    return applyUnit(unit, {
      ctx,
      ledger,
      action: "up",
      rollbackOnFailure: options.rollbackOnFailure,
      bounds: options.bounds,
      backendImpl: options.backendImpl,
      host: placement.host,
      id,
      ...(secrets ? { secrets } : {}),
    });
  };
  const outcomes = await executeDag(
    plan.environments.map((e) => ({
      name: e.environment,
      needs: e.dependsOn.filter((d) => byName.has(d)),
    })),
    deployOne,
    { concurrency: Math.max(1, options.concurrency ?? defaultConcurrency) },
  );
  const failed = [...outcomes.entries()]
    .filter(([, o]) => o.status === "failed")
    .sort(([, a], [, b]) => (a.endedAt?.getTime() ?? 0) - (b.endedAt?.getTime() ?? 0));
  if (failed.length > 0) {
    const left = [...outcomes.entries()].filter(
      ([, o]) => o.status === "skipped" || o.status === "not started",
    );
    if (left.length > 0)
      ctx.events({
        type: "warning",
        message: `not deployed after the failure of ${failed.map(([n]) => n).join(", ")}: ${left.map(([n]) => n).join(", ")}`,
      });
    throw failed[0]![1].error;
  }
  return plan.environmentOrder.flatMap((name) => {
    const value = outcomes.get(name)?.value;
    return value ? [value] : [];
  });
}

/**
 * Nothing to do when the pinned unit equals the current deploy's, the last
 * deploy that did something succeeded, no secret value changed, and a live
 * check finds no drift: a re-run of an unchanged pipeline touches nothing.
 */
async function isUnchanged(
  ledger: Ledger,
  unit: DeploymentUnit,
  ctx: BackendContext,
  backend: Backend,
  secrets: SecretFingerprints | undefined,
): Promise<boolean> {
  const read = await ledger.read();
  await ledger.verify(read);
  const current = currentRecord(read.records);
  if (!current?.unit) return false;
  const scope = unit.environment.environment;
  // Said first: on Kubernetes a changed value also changes the unit (its pod-template checksum).
  const changed = secretChanges(current.secrets, secrets);
  if (changed.length > 0) {
    ctx.events({ type: "stage", scope, message: `${changed.join("; ")}: applying` });
    return false;
  }
  const digest = unitDigest(unit);
  // A unit an older kaupang recorded has another digest for the same deploy (pieces the
  // planner carries since, the checkout's paths): compare it completed and made portable.
  if (current.unit !== digest) {
    const recorded = await ledger.readUnit(current);
    if (unitDigest(recorded) !== digest && unitDigest(portableUnit(recorded, ctx.root)) !== digest)
      return false;
  }
  const lastAttempt = deployments(read.records)
    .filter((r) => r.status !== "unchanged" && r.failedStep !== "resolve")
    .at(-1);
  if (lastAttempt && lastAttempt.status !== "succeeded") {
    ctx.events({
      type: "stage",
      scope,
      message: `unchanged config, but the last deploy (${lastAttempt.id}) ${lastAttempt.status === "failed" ? "failed" : "was interrupted"}: applying`,
    });
    return false;
  }
  const drift = await driftOf(backend, ctx, unit);
  if (drift.length === 0) return true;
  ctx.events({
    type: "stage",
    scope,
    message: `unchanged config, but it drifted (${drift.map((d) => `${d.service}: ${d.detail}`).join("; ")}): applying`,
  });
  return false;
}

/** Plan and deploy `environments` (and their dependencies). */
export async function up(options: UpOptions): Promise<UpResult> {
  return deployPlanned(await planUp(options), options);
}
