/** The on-disk ledger record, read back through this schema (never trusted raw). */
import * as z from "zod";

/**
 * Record format versions. 1: one record per deploy, written after it
 * (succeeded | failed | unchanged). 2 (this version writes): a `started`
 * record before a unit's first side effect and an outcome record with the
 * same `id` after it (succeeded | failed | interrupted); `by` may carry the
 * CI run, a record may carry `secrets` fingerprints, `trigger`, `endedAt` and
 * `torn`. Version 1 records keep reading, verifying and rolling back.
 */
export const ledgerVersion = 2 as const;

const LedgerImageSchema = z.object({
  service: z.string(),
  ref: z.string(),
  digest: z.string().optional(),
  pinned: z.boolean(),
  /** Pinned to a local image ID (a build never pushed, deployed with --no-resolve). */
  local: z.boolean().optional(),
});

const recordStatuses = ["started", "succeeded", "failed", "interrupted", "unchanged"] as const;

const LedgerRecordShape = z.object({
  v: z.union([z.literal(1), z.literal(ledgerVersion)]),
  seq: z.number().int().positive(),
  id: z.string(),
  at: z.string(),
  /** Who ran it; `ci` names the CI run where one is exposed ("github owner/repo run 123"). */
  by: z.object({ user: z.string(), host: z.string(), ci: z.string().optional() }),
  kaupang: z.string(),
  project: z.string(),
  environment: z.string(),
  target: z.string(),
  /** Which of the target's hosts (its ssh:// URL), in a per-host ledger. */
  host: z.string().optional(),
  backend: z.enum(["compose", "swarm", "kubernetes"]),
  action: z.enum(["up", "rollback", "down"]),
  status: z.enum(recordStatuses),
  failedStep: z.enum(["hook", "resolve", "apply", "verify"]).optional(),
  /** Why it failed or was interrupted; child output in it has secret values masked. */
  error: z.string().optional(),
  rollbackOf: z.string().optional(),
  /** A rollback kaupang made by itself (rollbackOnFailure): the id of the deploy that failed. */
  trigger: z.string().optional(),
  /** Where the deploy came from when not the config: "bundle hedeby@2.3.1". */
  source: z.string().optional(),
  /** The bundle a deploy was carried in by (up --bundle, or a rollback to such a deploy), as verified then. */
  bundle: z
    .object({
      /** "hedeby@2.3.1" */
      solution: z.string(),
      /** sha256 of its bundle.json */
      digest: z.string(),
      /** Id of the key whose signature was verified (absent: the bundle was not signature-checked). */
      signer: z.string().optional(),
    })
    .optional(),
  images: z.array(LedgerImageSchema),
  /** Digest of the stored deployment unit (objects/<hex>.json), for replay. */
  unit: z.string().optional(),
  /**
   * Keyed fingerprints of the secret() values the deploy used: `key` names the
   * fingerprint key (kept on the deploying side, never here), `values` maps each
   * secret to HMAC-SHA256(key, name NUL value). Never the values.
   */
  secrets: z.object({ key: z.string(), values: z.record(z.string(), z.string()) }).optional(),
  /** When the outcome was recorded (outcome records). */
  endedAt: z.string().optional(),
  /** A write torn by a crash was cut before this record: its size, hash and where it was kept. */
  torn: z.object({ bytes: z.number(), sha256: z.string(), savedAs: z.string() }).optional(),
  prev: z.string().nullable(),
  hash: z.string(),
});

let compiled: typeof LedgerRecordShape | undefined;

/**
 * The schema to read `count` records with. Many records: compiled (zod's
 * generated fast path, with the runtime parser on failure, so errors read
 * the same), 3× faster at 10,000 records. A few: as is, since compiling
 * costs more (~4 ms) than it saves.
 */
export function ledgerRecordSchema(count: number): typeof LedgerRecordShape {
  if (count < 200) return LedgerRecordShape;
  compiled ??= z.compile(LedgerRecordShape);
  return compiled;
}

export type LedgerRecord = z.infer<typeof LedgerRecordShape>;
export type BundleProvenance = NonNullable<LedgerRecord["bundle"]>;

/** A deployment as history shows it: its outcome record, or its started record when no outcome was written. */
export type Deployment = LedgerRecord & {
  /** The started record has no outcome: shown as `interrupted` (the process ended without writing one). */
  outcomeMissing?: true;
};

/**
 * One entry per deployment, oldest first: a `started` record and the outcome
 * with its id become the outcome; a `started` record with no outcome becomes
 * `interrupted` (with `outcomeMissing`), or stays `started` when `running` is
 * its id (the deploy holding the lock right now). Version 1 records pass
 * through as they are.
 */
export function deployments(records: readonly LedgerRecord[], running?: string): Deployment[] {
  const out: Deployment[] = [];
  const open = new Map<string, number>();
  for (const record of records) {
    const at = open.get(record.id);
    if (record.status === "started") {
      open.set(record.id, out.length);
      out.push(record);
    } else if (at !== undefined) {
      out[at] = record;
      open.delete(record.id);
    } else out.push(record);
  }
  for (const [id, at] of open)
    if (id !== running) out[at] = { ...out[at]!, status: "interrupted", outcomeMissing: true };
  return out;
}

/**
 * The record that describes what should run: the last succeeded (or
 * unchanged) deploy, unless a down came after it. Failed, interrupted and
 * unfinished deploys are passed over: they never become what rollback or
 * the no-change check compare against.
 */
export function currentRecord(records: readonly LedgerRecord[]): LedgerRecord | undefined {
  return ranRecords(records).next().value;
}

/**
 * What ran, newest first: the succeeded (or unchanged) deploys with a unit,
 * back to the last succeeded down. Lazy: `currentRecord` reads only the first.
 */
export function* ranRecords(records: readonly LedgerRecord[]): Generator<LedgerRecord, undefined> {
  const merged = deployments(records);
  for (let i = merged.length - 1; i >= 0; i--) {
    const r = merged[i]!;
    if (r.action === "down" && r.status === "succeeded") return undefined;
    if (r.action !== "down" && (r.status === "succeeded" || r.status === "unchanged") && r.unit) yield r;
  }
  return undefined;
}
