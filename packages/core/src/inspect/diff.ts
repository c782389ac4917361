/**
 * `kaupang diff <env>` (and the top of `up --dry-run`): what `up` would change
 * against the last succeeded deploy of each environment it touches. Resolved
 * digests when allowed; in a hermetic dry-run, configured references only.
 */

import { nameOf } from "../base/image-reference.js";
import { pinImages } from "../deploy/pin.js";
import { type Planned, type PlanUpOptions, planUp } from "../deploy/plan-up.js";
import { Ledger } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";
import { createPlan } from "../plan/create-plan.js";
import type { EnvironmentPlan, Plan } from "../plan/types.js";
import { type Change, diffViews, type ServiceView, viewArtifact } from "../render/view.js";

export interface EnvironmentDiff {
  environment: string;
  /** The deploy compared against; absent when nothing is deployed yet. */
  against?: string;
  changes: Change[];
}

/** Views of an environment; with `refsOnly`, images are the configured references. */
function views(
  plan: Pick<Plan, "backend">,
  env: Pick<EnvironmentPlan, "artifact" | "images">,
  refsOnly: boolean,
): Record<string, ServiceView> {
  const out = viewArtifact(plan.backend, env.artifact.content);
  if (refsOnly) for (const image of env.images) if (out[image.service]) out[image.service]!.image = image.ref;
  return out;
}

/** Compare a plan (pinned or not) with the ledgers of its environments. */
export function diffPlan(planned: Planned, plan: Plan, hermetic: boolean): EnvironmentDiff[] {
  return plan.environments.map((env) => {
    const ledger = new Ledger(planned.model.cacheDir, env.environment, plan.target, { root: plan.root });
    const read = ledger.read();
    ledger.verify(read);
    const record = currentRecord(read.records);
    // Never deployed: every service is new; the plan says so without parsing its artifact.
    if (!record) {
      return {
        environment: env.environment,
        changes: env.images.map((image) => ({
          service: image.service,
          kind: "added" as const,
          detail: `added (${hermetic || !image.digest ? image.ref : `${nameOf(image.ref)}@${image.digest}`})`,
        })),
      };
    }
    const unit = ledger.readUnit(record);
    return {
      environment: env.environment,
      against: record.id,
      changes: diffViews(views(unit, unit.environment, hermetic), views(plan, env, hermetic)),
    };
  });
}

export async function diff(
  options: PlanUpOptions & { resolve?: boolean | undefined },
): Promise<EnvironmentDiff[]> {
  const planned = await planUp(options);
  if (options.resolve === false) return diffPlan(planned, planned.plan, true);
  const pins = await pinImages(planned.model, planned.plan, { cwd: options.cwd, events: options.events });
  return diffPlan(planned, createPlan(planned.model, { pull: planned.plan.pull, pinned: pins }), false);
}
