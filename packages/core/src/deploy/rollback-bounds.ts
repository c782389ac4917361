/**
 * Rollback bounds of a site that deploys from bundles (no config, or a
 * target with `requireSignature`): what `kaupang rollback` may return to,
 * and what a deploy's rollback on failure may restore — only deploys a
 * verified bundle carried in (with requireSignature, only those signed by
 * the required key), so neither leaves what crossed the gap.
 */
import { resolve } from "node:path";
import { keyIdOf, readPublicKey } from "../base/signing-keys.js";
import type { Project } from "../config/project.js";
import { type LedgerRecord, ranRecords } from "../ledger/record.js";
import type { DeploymentUnit } from "../plan/unit.js";

export interface RollbackBounds {
  allows(record: LedgerRecord): boolean;
  /** Why a record is not allowed: "was not carried in by a verified bundle". */
  refusal: string;
}

/** Where a site deploys: its config (when it has one), root and target. */
interface Site {
  root: string;
  target: string;
  project?: Project | undefined;
}

/**
 * The key a config's target requires bundles to be signed with
 * (`requireSignature`): its absolute path, and the path as written.
 */
export function requiredSignatureKey(site: Site): { key: string; display: string } | undefined {
  const written = site.project?.config.targets?.[site.target]?.requireSignature;
  return written ? { key: resolve(site.root, written.key), display: written.key } : undefined;
}

/** The bounds of a site that deploys from bundles; undefined for a config site whose target requires no signature. */
export function siteBounds(site: Site): RollbackBounds | undefined {
  const required = requiredSignatureKey(site);
  if (required) {
    const keyId = keyIdOf(readPublicKey(required.key, required.display));
    return {
      allows: (r) => r.bundle?.signer === keyId,
      refusal: `was not carried in by a bundle signed with ${required.display} (${keyId}), which target ${site.target} requires`,
    };
  }
  if (site.project) return undefined;
  return {
    allows: (r) => r.bundle !== undefined,
    refusal:
      "was not carried in by a verified bundle (this site has no config: it deploys from bundles only)",
  };
}

/**
 * What a rollback on failure restores: what ran before the deploy (the last
 * succeeded or unchanged deploy; nothing after a down) — on a bounded site
 * the latest such deploy within the bounds, with `refused`: the latest one
 * passed over (what ran, when it is not allowed).
 */
export function restorePoint(
  records: readonly LedgerRecord[],
  bounds?: RollbackBounds,
): { record?: LedgerRecord; refused?: LedgerRecord } {
  let refused: LedgerRecord | undefined;
  for (const r of ranRecords(records)) {
    if (!bounds || bounds.allows(r)) return { record: r, ...(refused ? { refused } : {}) };
    refused ??= r;
  }
  return refused ? { refused } : {};
}

/**
 * Why a recorded unit may not be re-applied: it came from a bundle, yet has
 * hooks (a bundle carries none, so the stored unit was changed since).
 */
export function tamperedBundleUnit(record: LedgerRecord, unit: DeploymentUnit): string | undefined {
  const hooks = Object.values(unit.environment.hooks ?? {}).flat();
  return record.bundle && hooks.length > 0
    ? `record ${record.id} came from bundle ${record.bundle.solution}, yet its unit has ${hooks.length} hook(s); a bundle carries none`
    : undefined;
}
