/**
 * `kaupang up`: plan (hermetic), check secrets, take the environments' locks,
 * pin every image (resolve tags to digests, or take them from --from, or pin
 * local builds by image ID with --no-resolve), then apply environment by
 * environment through the one apply path, recording each in its ledger.
 */
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import * as z from "zod";
import type { BackendContext } from "../backends/backend.js";
import { backendContext, backendFor } from "../backends/context.js";
import { prefetchProjectNetwork } from "../backends/network.js";
import { errorMessage, isKaupangError, KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { isDigest, pinnedRef } from "../base/image-reference.js";
import type { Model } from "../config/model.js";
import { localImageId } from "../images/local.js";
import { resolveAll } from "../images/resolve.js";
import { currentRecord, driftOf } from "../inspect/status.js";
import { Ledger, unitDigest } from "../ledger/ledger.js";
import { acquireLock, type Lock } from "../ledger/lock.js";
import type { DeploymentUnit } from "../ledger/record.js";
import { createPlan, isDigestRef } from "../plan/create-plan.js";
import type { Plan } from "../plan/types.js";
import { applyUnit, type DeploymentSummary, recordUnchanged } from "./apply-unit.js";
import { newDeploymentId } from "./ids.js";
import { type Planned, type PlanUpOptions, planUp } from "./plan-up.js";
import { checkSecrets } from "./secrets.js";

export type { DeploymentSummary } from "./apply-unit.js";

export interface ApplyOptions {
  events?: EventSink | undefined;
  /** Per-environment convergence timeout, and how long to wait for another deploy's lock. */
  timeoutMs?: number | undefined;
  /** Where secret() values are read for the pre-flight; default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
  /** The running kaupang's version, recorded in the ledger. */
  kaupangVersion?: string | undefined;
  /** The command line, recorded in lock files so a blocked run can name it. */
  command?: string | undefined;
}

export interface UpOptions extends PlanUpOptions, ApplyOptions {
  /** false = --no-resolve: deploy refs as written (local builds pinned by image ID). */
  resolve?: boolean | undefined;
  /** A previous `up --output json` to take digests from (promotion), instead of resolving. */
  from?: string | undefined;
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

const ResolvedFileSchema = z.object({
  deployments: z.array(
    z.object({
      environment: z.string(),
      images: z.array(z.object({ service: z.string(), ref: z.string(), digest: z.string().optional() })),
    }),
  ),
});

/** `env.service` → digest, from a previous `up --output json`. */
function readResolvedFile(path: string): Map<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new KaupangError(
      "ERR_FROM_INVALID",
      `--from ${path}: cannot read it as JSON (${errorMessage(error)})`,
    );
  }
  const parsed = ResolvedFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new KaupangError(
      "ERR_FROM_INVALID",
      `--from ${path}: not the output of \`kaupang up --output json\` (${parsed.error.issues[0]?.message})`,
    );
  }
  const digests = new Map<string, string>();
  for (const d of parsed.data.deployments) {
    for (const image of d.images)
      if (image.digest) digests.set(`${d.environment}.${image.service}`, image.digest);
  }
  return digests;
}

/** Pin every service's image; returns environment → service → pinned ref (or image ID). */
export async function pinImages(
  model: Model,
  plan: Plan,
  options: UpOptions,
): Promise<Record<string, Record<string, string>>> {
  const pinned: Record<string, Record<string, string>> = {};
  const fromFile = options.from
    ? readResolvedFile(resolvePath(options.cwd ?? process.cwd(), options.from))
    : undefined;
  const toResolve: { env: string; service: string; ref: string }[] = [];
  for (const env of plan.environments) {
    pinned[env.environment] = {};
    for (const image of env.images) {
      if (isDigestRef(image.ref)) continue;
      const key = `${env.environment}.${image.service}`;
      if (fromFile) {
        const digest = fromFile.get(key);
        if (!digest) {
          throw new KaupangError(
            "ERR_FROM_INCOMPLETE",
            `--from ${options.from}: has no digest for ${key} (${image.ref})`,
            {
              hint: "produce it with `kaupang up <env> --output json` for the same environments",
            },
          );
        }
        // Promotion: the configured image, at the digest the earlier deploy ran.
        if (!isDigest(digest)) {
          throw new KaupangError(
            "ERR_FROM_INVALID",
            `--from ${options.from}: ${key} has ${JSON.stringify(digest)}, not a sha256 digest`,
          );
        }
        pinned[env.environment]![image.service] = pinnedRef(image.ref, digest);
      } else if (options.resolve === false) {
        const service = model.environments[env.environment]!.services[image.service]!;
        if (service.build && plan.backend === "compose") {
          const id = await localImageId(plan.targetSettings, image.ref);
          if (id) pinned[env.environment]![image.service] = id;
        }
      } else {
        toResolve.push({ env: env.environment, service: image.service, ref: image.ref });
      }
    }
  }
  if (toResolve.length > 0) {
    const digests = await resolveAll(
      toResolve.map((r) => ({ owner: `${r.env}.${r.service}`, ref: r.ref, environment: r.env })),
      { events: options.events },
    );
    for (const r of toResolve) pinned[r.env]![r.service] = pinnedRef(r.ref, digests.get(r.ref)!);
  }
  return pinned;
}

export function ledgerFor(
  plan: Pick<Plan, "root">,
  model: Pick<Model, "cacheDir">,
  environment: string,
  target: string,
  version?: string,
): Ledger {
  return new Ledger(model.cacheDir, environment, target, {
    root: plan.root,
    ...(version ? { kaupangVersion: version } : {}),
  });
}

/** Take the locks of `environments` (sorted, so two runs never deadlock). */
export async function lockEnvironments(
  cacheDir: string,
  target: string,
  environments: readonly string[],
  options: ApplyOptions,
): Promise<Lock[]> {
  const locks: Lock[] = [];
  try {
    for (const name of [...environments].sort()) {
      locks.push(
        await acquireLock(resolvePath(cacheDir, "locks", `${name}@${target}.lock`), {
          what: `${name}@${target}`,
          timeoutMs: options.timeoutMs ?? 5 * 60_000,
          command: options.command ?? "kaupang",
          ...(options.events ? { events: options.events } : {}),
        }),
      );
    }
    return locks;
  } catch (error) {
    for (const lock of locks) lock.release();
    throw error;
  }
}

/** Deploy a planned config (see `up`). */
export async function deployPlanned(planned: Planned, options: UpOptions): Promise<UpResult> {
  const { model, plan } = planned;
  // Kubernetes reads secret values from the cluster's Secret (its backend checks that); the others from this process.
  if (plan.backend !== "kubernetes") checkSecrets(plan.environments, options.processEnv);
  const ctx = backendContext(plan, options);
  const locks = await lockEnvironments(model.cacheDir, plan.target, plan.environmentOrder, options);
  if (plan.backend !== "kubernetes") prefetchProjectNetwork(ctx);
  try {
    let pins: Record<string, Record<string, string>>;
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
      if (!options.force && (await isUnchanged(ledger, unit, ctx))) {
        deployments.push(await recordUnchanged(unit, { ctx, ledger }));
        continue;
      }
      deployments.push(await applyUnit(unit, { ctx, ledger, action: "up" }));
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
async function isUnchanged(ledger: Ledger, unit: DeploymentUnit, ctx: BackendContext): Promise<boolean> {
  const read = ledger.read();
  ledger.verify(read);
  const current = currentRecord(read.records);
  if (current?.unit !== unitDigest(unit)) return false;
  const drift = await driftOf(backendFor(unit.backend), ctx, unit);
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
