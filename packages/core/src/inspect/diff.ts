/**
 * `kaupang diff <env>` (and the top of `up --dry-run`): what `up` would change
 * against the last succeeded deploy of each environment it touches. Resolved
 * digests when allowed; in a hermetic dry-run, configured references only.
 */

import { backendContext, backendFor } from "../backends/context.js";
import { nameOf } from "../base/image-reference.js";
import { own } from "../base/merge.js";
import { placementsOf } from "../deploy/hosts.js";
import { pinImages } from "../deploy/pin.js";
import { type Planned, type PlanUpOptions, planUp } from "../deploy/plan-up.js";
import {
  currentFingerprints,
  fingerprintMap,
  type SecretFingerprints,
  secretChanges,
} from "../deploy/secret-fingerprints.js";
import { type Ledger, ledgerAt } from "../ledger/ledger.js";
import { currentRecord, type LedgerRecord } from "../ledger/record.js";
import { planStoreLocation } from "../ledger/state-store.js";
import { createPlan } from "../plan/create-plan.js";
import type { EnvironmentPlan, Plan } from "../plan/types.js";
import type { DeploymentUnit } from "../plan/unit.js";
import type { EnvEntry, ServiceView } from "../render/view.js";

export interface EnvironmentDiff {
  environment: string;
  /** Which of the target's hosts (each has its own last deploy). */
  host?: string;
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
 * Compare a plan (pinned or not) with the ledgers of its environments (on
 * each of the target's hosts); with `secrets` (fingerprints of the values
 * now), also which secret values changed.
 */
export async function diffPlan(
  planned: Planned,
  plan: Plan,
  hermetic: boolean,
  secrets?: SecretFingerprints,
  hosts?: readonly string[],
): Promise<EnvironmentDiff[]> {
  const placements = placementsOf(plan.targetSettings, hosts);
  const checks = plan.environments.flatMap((env) => placements.map(({ host }) => ({ env, host })));
  return Promise.all(
    checks.map(async ({ env, host }): Promise<EnvironmentDiff> => {
      const ledger = ledgerAt(planStoreLocation(planned.model, plan), {
        environment: env.environment,
        target: plan.target,
        ...(host ? { host } : {}),
      });
      const read = await ledger.read();
      await ledger.verify(read);
      const record = currentRecord(read.records);
      const at = { environment: env.environment, ...(host ? { host } : {}) };
      // Never deployed: every service is new; the plan says so without parsing its artifact.
      if (!record) {
        return {
          ...at,
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
        ...at,
        against: record.id,
        changes: diffViews(views(unit.environment, hermetic), views(env, hermetic)),
        secrets: secretChanges(record.secrets, now),
      };
    }),
  );
}

export async function diff(
  options: PlanUpOptions & {
    resolve?: boolean | undefined;
    processEnv?: NodeJS.ProcessEnv | undefined;
    hosts?: readonly string[] | undefined;
  },
): Promise<EnvironmentDiff[]> {
  const planned = await planUp(options);
  const { plan } = planned;
  const ctx = backendContext(plan, { events: options.events });
  const names = [...new Set(plan.environments.flatMap((e) => e.secrets))];
  const secrets = await currentFingerprints(backendFor(plan.backend), ctx, names, options.processEnv);
  if (options.resolve === false) return diffPlan(planned, plan, true, secrets, options.hosts);
  const pins = await pinImages(planned.model, plan, { cwd: options.cwd, events: options.events });
  const pinned = createPlan(planned.model, {
    pull: plan.pull,
    pinned: pins,
    secrets: fingerprintMap(secrets),
  });
  return diffPlan(planned, pinned, false, secrets, options.hosts);
}

export interface Change {
  service: string;
  kind: "added" | "removed" | "image" | "env" | "ports" | "replicas" | "command";
  /** The variable, for an env change. */
  key?: string;
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
    const a = own(before, service);
    const b = own(after, service);
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
      const x = own(a.env, key);
      const y = own(b.env, key);
      if (JSON.stringify(x) === JSON.stringify(y)) continue;
      changes.push({ service, kind: "env", key, detail: `env ${key}: ${showEnv(x)} → ${showEnv(y)}` });
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

/**
 * What each deploy of one ledger (an environment@target, oldest first, as
 * `deployments()` merges them) changed against what ran before it — the last
 * succeeded deploy or rollback — in images, env, ports, replicas and
 * commands: so an env-only change reads as one. Empty for a deploy that
 * changed nothing, undefined for one without a unit (a down). Units are read
 * once per digest.
 */
export async function recordChanges(
  ledger: Ledger,
  records: readonly LedgerRecord[],
): Promise<(Change[] | undefined)[]> {
  const cache = new Map<string, Record<string, ServiceView>>();
  const viewsOf = async (record: LedgerRecord) => {
    let found = cache.get(record.unit!);
    if (!found) {
      found = (await ledger.readUnit(record)).environment.views;
      cache.set(record.unit!, found);
    }
    return found;
  };
  let running: { digest: string; views: Record<string, ServiceView> } | undefined;
  const out: (Change[] | undefined)[] = [];
  for (const record of records) {
    if (!record.unit) {
      if (record.action === "down" && record.status === "succeeded") running = undefined;
      out.push(undefined);
      continue;
    }
    const views = await viewsOf(record);
    out.push(running?.digest === record.unit ? [] : diffViews(running?.views ?? {}, views));
    if (record.status === "succeeded") running = { digest: record.unit, views };
  }
  return out;
}

/** What a rollback to `unit` changes against the environment's current deploy. */
export async function rollbackChanges(
  records: readonly LedgerRecord[],
  ledger: Ledger,
  unit: Pick<DeploymentUnit, "environment">,
): Promise<Change[]> {
  const current = currentRecord(records);
  const before = current ? (await ledger.readUnit(current)).environment.views : {};
  return diffViews(before, unit.environment.views);
}
