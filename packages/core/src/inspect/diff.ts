/**
 * `kaupang diff <env>` (and the top of `up --dry-run`): what `up` would change
 * against the last succeeded deploy of each environment it touches. Resolved
 * digests when allowed; in a hermetic dry-run, configured references only.
 */

import { backendContext, backendFor } from "../backends/context.js";
import { nameOf } from "../base/image-reference.js";
import { pinImages } from "../deploy/pin.js";
import { type Planned, type PlanUpOptions, planUp } from "../deploy/plan-up.js";
import {
  currentFingerprints,
  fingerprintMap,
  type SecretFingerprints,
  secretChanges,
} from "../deploy/secret-fingerprints.js";
import { ledgerAt } from "../ledger/ledger.js";
import { currentRecord } from "../ledger/record.js";
import { planStoreLocation } from "../ledger/state-store.js";
import { createPlan } from "../plan/create-plan.js";
import type { EnvironmentPlan, Plan } from "../plan/types.js";
import type { EnvEntry, ServiceView } from "../render/view.js";

export interface EnvironmentDiff {
  environment: string;
  /** The deploy compared against; absent when nothing is deployed yet. */
  against?: string;
  changes: Change[];
  /** Secrets whose value changed since that deploy ("secret API_KEY changed"); never a value. */
  secrets: string[];
}

/** Views of an environment; with `refsOnly`, images are the configured references. */
function views(
  env: Pick<EnvironmentPlan, "views" | "images">,
  refsOnly: boolean,
): Record<string, ServiceView> {
  if (!refsOnly) return env.views;
  const out = Object.fromEntries(Object.entries(env.views).map(([name, view]) => [name, { ...view }]));
  for (const image of env.images) if (out[image.service]) out[image.service]!.image = image.ref;
  return out;
}

/**
 * Compare a plan (pinned or not) with the ledgers of its environments; with
 * `secrets` (fingerprints of the values now), also which secret values changed.
 */
export async function diffPlan(
  planned: Planned,
  plan: Plan,
  hermetic: boolean,
  secrets?: SecretFingerprints,
): Promise<EnvironmentDiff[]> {
  return Promise.all(
    plan.environments.map(async (env): Promise<EnvironmentDiff> => {
      const ledger = ledgerAt(planStoreLocation(planned.model, plan), {
        environment: env.environment,
        target: plan.target,
      });
      const read = await ledger.read();
      await ledger.verify(read);
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
          secrets: [],
        };
      }
      const unit = await ledger.readUnit(record);
      const now = secrets && {
        key: secrets.key,
        values: Object.fromEntries(
          Object.entries(secrets.values).filter(([name]) => env.secrets.includes(name)),
        ),
      };
      return {
        environment: env.environment,
        against: record.id,
        changes: diffViews(views(unit.environment, hermetic), views(env, hermetic)),
        secrets: secretChanges(record.secrets, now),
      };
    }),
  );
}

export async function diff(
  options: PlanUpOptions & { resolve?: boolean | undefined; processEnv?: NodeJS.ProcessEnv | undefined },
): Promise<EnvironmentDiff[]> {
  const planned = await planUp(options);
  const { plan } = planned;
  const ctx = backendContext(plan, { events: options.events });
  const names = [...new Set(plan.environments.flatMap((e) => e.secrets))];
  const secrets = await currentFingerprints(backendFor(plan.backend), ctx, names, options.processEnv);
  if (options.resolve === false) return diffPlan(planned, plan, true, secrets);
  const pins = await pinImages(planned.model, plan, { cwd: options.cwd, events: options.events });
  const pinned = createPlan(planned.model, {
    pull: plan.pull,
    pinned: pins,
    secrets: fingerprintMap(secrets),
  });
  return diffPlan(planned, pinned, false, secrets);
}

export interface Change {
  service: string;
  kind: "added" | "removed" | "image" | "env" | "ports" | "replicas" | "command";
  /** Human text; never a secret value. */
  detail: string;
}

const showEnv = (e: EnvEntry | undefined) =>
  e === undefined ? "(unset)" : "secret" in e ? `secret(${e.secret})` : JSON.stringify(e.value);

/** What changes from `before` to `after`, service by service. */
function diffViews(before: Record<string, ServiceView>, after: Record<string, ServiceView>): Change[] {
  const changes: Change[] = [];
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const service of names) {
    const a = before[service];
    const b = after[service];
    if (!a) {
      changes.push({ service, kind: "added", detail: `added (${b!.image})` });
      continue;
    }
    if (!b) {
      changes.push({ service, kind: "removed", detail: "removed" });
      continue;
    }
    if (a.image !== b.image)
      changes.push({ service, kind: "image", detail: `image ${a.image} → ${b.image}` });
    for (const key of [...new Set([...Object.keys(a.env), ...Object.keys(b.env)])].sort()) {
      const x = a.env[key];
      const y = b.env[key];
      if (JSON.stringify(x) === JSON.stringify(y)) continue;
      changes.push({ service, kind: "env", detail: `env ${key}: ${showEnv(x)} → ${showEnv(y)}` });
    }
    if (a.ports.join() !== b.ports.join()) {
      changes.push({
        service,
        kind: "ports",
        detail: `ports [${a.ports.join(", ")}] → [${b.ports.join(", ")}]`,
      });
    }
    if (a.replicas !== b.replicas)
      changes.push({ service, kind: "replicas", detail: `replicas ${a.replicas} → ${b.replicas}` });
    if (a.command.join("\u0000") !== b.command.join("\u0000")) {
      changes.push({
        service,
        kind: "command",
        detail: `command ${JSON.stringify(a.command)} → ${JSON.stringify(b.command)}`,
      });
    }
  }
  return changes;
}
