/** The on-disk ledger record, read back through this schema (never trusted raw). */
import * as z from "zod";

export const ledgerVersion = 1 as const;

const LedgerImageSchema = z.object({
  service: z.string(),
  ref: z.string(),
  digest: z.string().optional(),
  pinned: z.boolean(),
  /** Pinned to a local image ID (a build never pushed, deployed with --no-resolve). */
  local: z.boolean().optional(),
});

const LedgerRecordShape = z.object({
  v: z.literal(ledgerVersion),
  seq: z.number().int().positive(),
  id: z.string(),
  at: z.string(),
  by: z.object({ user: z.string(), host: z.string() }),
  kaupang: z.string(),
  project: z.string(),
  environment: z.string(),
  target: z.string(),
  backend: z.enum(["compose", "swarm", "kubernetes"]),
  action: z.enum(["up", "rollback", "down"]),
  status: z.enum(["succeeded", "failed", "unchanged"]),
  failedStep: z.enum(["hook", "resolve", "apply", "verify"]).optional(),
  error: z.string().optional(),
  rollbackOf: z.string().optional(),
  /** Where the deploy came from when not the config: "bundle hedeby@2.3.1". */
  source: z.string().optional(),
  images: z.array(LedgerImageSchema),
  /** Digest of the stored deployment unit (objects/<hex>.json), for replay. */
  unit: z.string().optional(),
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

/** The record that describes what should run: the last succeeded (or unchanged) deploy, unless a down came after it. */
export function currentRecord(records: readonly LedgerRecord[]): LedgerRecord | undefined {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.action === "down" && r.status === "succeeded") return undefined;
    if (r.action !== "down" && r.status !== "failed" && r.unit) return r;
  }
  return undefined;
}
