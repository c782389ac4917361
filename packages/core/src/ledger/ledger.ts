/**
 * The deploy ledger of one environment@target: records, one JSON object per
 * line, append-only and hash-chained (each record carries the hash of the one
 * before it, and its own), kept in a StateStore (store.ts: the local files
 * under cacheDir, or objects on the target). The replayable deployment unit (artifact, waves,
 * commands) is stored content-addressed beside them, so records stay small
 * and identical deploys share one unit.
 *
 * A deploy writes a `started` record before its first side effect and an
 * outcome record with the same id after it, so a killed deploy leaves a trace.
 *
 * Crash safety: units are stored before the record that names them; a record
 * is one appended line, fsynced (or one object written on the target). A line
 * torn by a crash (no trailing newline) is ignored on read; the next append
 * keeps its bytes aside and says so in the record it writes (`torn`). Every
 * append also moves the head anchor (count, hash and id of the last record),
 * kept apart from the records, so records cut from the end are detected by
 * `verify` and refused by `append`. Appending reads only the tail, so it
 * costs the same at 10 or 10,000 records; it is a compare-and-swap on that
 * tail, so two writers never fork the chain.
 */
import { hash } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import * as z from "zod";
import { KaupangError } from "../base/errors.js";
import { redact } from "../base/redact.js";
import { completeUnit, type DeploymentUnit, type StoredUnit } from "../plan/unit.js";
import { type LedgerRecord, ledgerRecordSchema, ledgerVersion } from "./record.js";
import { type StoreLocation, stateStore } from "./state-store.js";
import { hostKey, type RecordLine, type Scope, type StateStore } from "./store.js";

/** crypto.hash (Node ≥ 20.12) is one call instead of three objects: ~3× faster on 10,000 short records. */
export const sha256 = (text: string): string => `sha256:${hash("sha256", text, "hex")}`;

/** The content address of a deployment unit: equal units, equal digests. */
export const unitDigest = (unit: DeploymentUnit): string => sha256(JSON.stringify(unit));

/**
 * `ledger/<env>@<target>.jsonl`; for one of a target's hosts, each with its
 * own chain: `ledger/<env>@<target>/<host key>.jsonl`.
 */
export function ledgerPath(cacheDir: string, environment: string, target: string, host?: string): string {
  return host
    ? join(cacheDir, "ledger", `${environment}@${target}`, `${hostKey(host)}.jsonl`)
    : join(cacheDir, "ledger", `${environment}@${target}.jsonl`);
}

/** Hash of a record's content: its JSON without the `hash` field, in written key order. */
export function recordHash(record: Omit<LedgerRecord, "hash"> & { hash?: string }): string {
  const { hash: _hash, ...content } = record;
  return sha256(JSON.stringify(content));
}

const hashSuffix = /^,"hash":"sha256:[0-9a-f]{64}"\}$/;
const hashSuffixLength = ',"hash":"sha256:"}'.length + 64;

/**
 * The hash a written line claims and the bytes it covers: records are written
 * as `{…content…,"hash":"<hex>"}`, so the content's JSON is the line without
 * its last field. Hashing those exact bytes is faster than re-serialising the
 * parsed record, and checks what is on disk.
 */
export function lineContentHash(line: string): string | undefined {
  // The suffix has a fixed length: test just those characters, not the whole line.
  const at = line.length - hashSuffixLength;
  if (at < 1 || !hashSuffix.test(line.slice(at))) return undefined;
  return sha256(`${line.slice(0, at)}}`);
}

export interface LedgerRead {
  records: LedgerRecord[];
  /** The lines the records were read from (same order). */
  lines?: string[];
  /** A final line without newline, left by a crash mid-append; ignored. */
  tornTail: boolean;
}

export type NewRecord = Omit<LedgerRecord, "v" | "seq" | "prev" | "hash" | "by" | "kaupang" | "torn"> & {
  by?: LedgerRecord["by"];
  kaupang?: string;
};

/** The head anchor: how many records the ledger had after the last append, and the last one's hash and id. */
const AnchorSchema = z.object({
  v: z.literal(1),
  count: z.number().int().nonnegative(),
  hash: z.string(),
  id: z.string(),
  at: z.string(),
});
type Anchor = z.infer<typeof AnchorSchema>;

export interface LedgerCheck {
  records: number;
  tornTail: boolean;
  /** ok: the records reach the anchored head; none: no anchor yet (a ledger written before anchors). */
  anchor: "ok" | "none";
}

/** The CI run this process belongs to, where the CI system exposes one. */
function ciRun(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.GITHUB_RUN_ID)
    return `github ${env.GITHUB_REPOSITORY ?? ""} run ${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `.${env.GITHUB_RUN_ATTEMPT}` : ""}`.replace(
      "  ",
      " ",
    );
  if (env.BUILD_BUILDID && env.SYSTEM_TEAMPROJECT)
    return `azure ${env.SYSTEM_TEAMPROJECT} build ${env.BUILD_BUILDID}`;
  if (env.GITLAB_CI && env.CI_JOB_ID) return `gitlab ${env.CI_PROJECT_PATH ?? ""} job ${env.CI_JOB_ID}`;
  if (env.JENKINS_URL && env.BUILD_TAG) return `jenkins ${env.BUILD_TAG}`;
  if (env.CIRCLECI && env.CIRCLE_BUILD_NUM) return `circleci build ${env.CIRCLE_BUILD_NUM}`;
  if (env.BUILDKITE_BUILD_ID) return `buildkite build ${env.BUILDKITE_BUILD_ID}`;
  return undefined;
}

/** Who is running: user, host and the CI run, as records and locks name them. */
export function whoami(): LedgerRecord["by"] {
  let user = process.env.USER ?? "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  const ci = ciRun();
  return { user, host: hostname(), ...(ci ? { ci } : {}) };
}

export class Ledger {
  readonly scope: StateStore["scope"];
  private readonly version: string;

  constructor(
    readonly store: StateStore,
    options: { kaupangVersion?: string | undefined } = {},
  ) {
    this.scope = store.scope;
    this.version = options.kaupangVersion ?? "0.0.0";
  }

  /** Where the records live, as users read it. */
  get location(): string {
    return this.store.location;
  }

  /** One of the target's hosts, when this is that host's ledger; every record names it. */
  get host(): string | undefined {
    return this.scope.host;
  }

  /** Parse and validate lines; a malformed line is an error naming file and line. */
  parse(lines: readonly string[], firstLine = 1): LedgerRecord[] {
    // One JSON.parse of the whole history is several times faster than one per
    // line; a line that is not JSON is then found line by line, to name it.
    let values: unknown[] | undefined;
    try {
      values = JSON.parse(`[${lines.join(",")}]`) as unknown[];
      if (values.length !== lines.length) values = undefined;
    } catch {
      values = undefined;
    }
    const schema = ledgerRecordSchema(lines.length);
    return lines.map((line, i) => {
      let value: unknown = values?.[i];
      if (values === undefined)
        try {
          value = JSON.parse(line);
        } catch {
          throw new KaupangError(
            "ERR_LEDGER_CORRUPT",
            `${this.location} line ${i + firstLine}: not valid JSON`,
            {
              hint: "the ledger was edited or damaged; `kaupang ledger verify` shows where, nothing was changed",
            },
          );
        }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new KaupangError(
          "ERR_LEDGER_CORRUPT",
          `${this.location} line ${i + firstLine}: ${issue.path.join(".") || "record"}: ${issue.message}`,
          { hint: "the ledger was edited or damaged; nothing was changed" },
        );
      }
      return parsed.data;
    });
  }

  /** The last complete record, reading only the tail. */
  async last(): Promise<LedgerRecord | undefined> {
    const { line } = await this.store.readTail();
    return line ? this.parse([line], 0)[0] : undefined;
  }

  /** All records, validated. */
  async read(): Promise<LedgerRead> {
    const { lines, torn } = await this.store.readRecords();
    return { records: this.parse(lines), lines, tornTail: torn !== undefined };
  }

  /** The head anchor, if one was written; an unreadable one is an error. */
  async readAnchor(): Promise<Anchor | undefined> {
    return this.parseAnchor(await this.store.readAnchor());
  }

  private parseAnchor(text: string | undefined): Anchor | undefined {
    if (text === undefined) return undefined;
    let parsed: ReturnType<typeof AnchorSchema.safeParse>;
    try {
      parsed = AnchorSchema.safeParse(JSON.parse(text));
    } catch {
      parsed = AnchorSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      throw new KaupangError(
        "ERR_LEDGER_TAMPERED",
        `${this.store.anchorLocation}: the head anchor of ${this.location} is unreadable`,
        { hint: "it was edited or damaged; if the ledger itself is intact, remove the anchor file" },
      );
    }
    return parsed.data;
  }

  /** Records cut from the end, or the anchored record replaced: an error naming what is gone. */
  private checkAnchor(anchor: Anchor, count: number, hashAt: (seq: number) => string | undefined): void {
    const anchored = `its head anchor (${this.store.anchorLocation}) says ${anchor.count} record${anchor.count === 1 ? "" : "s"}, the last ${anchor.id} (${anchor.hash.slice(0, 19)}…)`;
    if (count < anchor.count) {
      const missing =
        anchor.count - count === 1
          ? `record ${anchor.count} (${anchor.id}) is missing`
          : `records ${count + 1}–${anchor.count} are missing (the last of them ${anchor.id})`;
      throw new KaupangError(
        "ERR_LEDGER_TRUNCATED",
        `${this.location}: ${missing}: the ledger ends at record ${count}, but ${anchored}; they were cut from its end`,
        {
          hint: `restore the missing lines (from a backup or version control); to accept the shorter ledger, remove ${this.store.anchorLocation}`,
        },
      );
    }
    const at = hashAt(anchor.count);
    if (at !== undefined && at !== anchor.hash) {
      throw new KaupangError(
        "ERR_LEDGER_TAMPERED",
        `${this.location}: record ${anchor.count} is not the one ${anchored}: records were replaced`,
      );
    }
  }

  /**
   * Check every link of the chain and the head anchor; throws naming the
   * first broken or missing record. Units are checked as the store can
   * cheaply (store.hasUnits); `deep` reads every unit and checks its digest.
   */
  async verify(read?: LedgerRead, options: { deep?: boolean } = {}): Promise<LedgerCheck> {
    const { records, lines, tornTail } = read ?? (await this.read());
    let prev: string | null = null;
    // Many records share one deployment unit (unchanged deploys): check each once.
    const digests = [...new Set(records.flatMap((r) => (r.unit ? [r.unit] : [])))];
    const present = options.deep
      ? new Set(
          (
            await Promise.all(
              digests.map(async (d) => ((await this.readUnitText(d)) === undefined ? [] : [d])),
            )
          ).flat(),
        )
      : await this.store.hasUnits(digests);
    for (const [i, record] of records.entries()) {
      const where = `${this.location} line ${i + 1} (record ${record.id})`;
      const line = lines?.[i];
      if (record.hash !== ((line !== undefined && lineContentHash(line)) || recordHash(record))) {
        throw new KaupangError(
          "ERR_LEDGER_TAMPERED",
          `${where}: content does not match its hash: the record was modified`,
        );
      }
      if (record.prev !== prev) {
        throw new KaupangError(
          "ERR_LEDGER_TAMPERED",
          `${where}: does not link to the record before it: records were removed, reordered or inserted`,
        );
      }
      if (record.seq !== i + 1) {
        throw new KaupangError(
          "ERR_LEDGER_TAMPERED",
          `${where}: sequence number ${record.seq}, expected ${i + 1}`,
        );
      }
      if (record.unit && !present.has(record.unit)) {
        throw new KaupangError(
          "ERR_LEDGER_TAMPERED",
          `${where}: its deployment object ${record.unit} is missing or modified`,
        );
      }
      prev = record.hash;
    }
    const anchor = await this.readAnchor();
    if (anchor) this.checkAnchor(anchor, records.length, (seq) => records[seq - 1]?.hash);
    return { records: records.length, tornTail, anchor: anchor ? "ok" : "none" };
  }

  /** Store a deployment unit content-addressed; returns its digest. */
  async storeUnit(unit: DeploymentUnit): Promise<string> {
    const digest = unitDigest(unit);
    await this.store.putUnit(digest, JSON.stringify(unit));
    return digest;
  }

  private async readUnitText(digest: string): Promise<string | undefined> {
    const text = await this.store.getUnit(digest);
    return text !== undefined && sha256(text) === digest ? text : undefined;
  }

  /** The deployment unit a record names, checked against its digest (and completed, if an older kaupang stored it). */
  async readUnit(record: LedgerRecord): Promise<DeploymentUnit> {
    if (!record.unit) {
      throw new KaupangError(
        "ERR_LEDGER_CORRUPT",
        `${this.location}: record ${record.id} has no deployment to replay`,
      );
    }
    const text = await this.readUnitText(record.unit);
    if (!text) {
      throw new KaupangError(
        "ERR_LEDGER_TAMPERED",
        `${this.location}: the deployment object of record ${record.id} is missing or modified`,
        { hint: `expected ${this.store.unitLocation(record.unit)} with that digest` },
      );
    }
    return completeUnit(JSON.parse(text) as StoredUnit);
  }

  /**
   * Append one record, chained to the last; the caller holds the scope's lock.
   * Refuses when records were cut from the end (the anchor is ahead), so an
   * append never hides a truncation; a torn tail is kept aside and named in
   * the record (`torn`).
   */
  async append(entry: NewRecord): Promise<LedgerRecord> {
    const { line, torn, anchor: anchorText } = await this.store.readTail();
    const last = line ? this.parse([line], 0)[0] : undefined;
    const anchor = this.parseAnchor(anchorText);
    if (anchor)
      this.checkAnchor(anchor, last?.seq ?? 0, (seq) => (seq === last?.seq ? last.hash : undefined));
    const seq = (last?.seq ?? 0) + 1;
    const tornInfo = torn
      ? { bytes: torn.length, sha256: sha256Bytes(torn), savedAs: await this.store.saveTorn(torn, seq) }
      : undefined;
    const content = {
      v: ledgerVersion as LedgerRecord["v"],
      seq,
      id: entry.id,
      at: entry.at,
      by: entry.by ?? whoami(),
      kaupang: entry.kaupang ?? this.version,
      project: entry.project,
      environment: entry.environment,
      target: entry.target,
      ...(this.scope.host ? { host: this.scope.host } : {}),
      backend: entry.backend,
      action: entry.action,
      status: entry.status,
      ...(entry.failedStep ? { failedStep: entry.failedStep } : {}),
      ...(entry.error ? { error: redact(entry.error) } : {}),
      ...(entry.rollbackOf ? { rollbackOf: entry.rollbackOf } : {}),
      ...(entry.trigger ? { trigger: entry.trigger } : {}),
      ...(entry.source ? { source: entry.source } : {}),
      ...(entry.bundle ? { bundle: entry.bundle } : {}),
      images: entry.images,
      ...(entry.unit ? { unit: entry.unit } : {}),
      ...(entry.secrets ? { secrets: entry.secrets } : {}),
      ...(entry.endedAt ? { endedAt: entry.endedAt } : {}),
      ...(tornInfo ? { torn: tornInfo } : {}),
      prev: last?.hash ?? null,
    };
    const record = { ...content, hash: recordHash(content) } as LedgerRecord;
    await this.store.append([{ line: JSON.stringify(record), seq }], anchorAfter(record), torn);
    return record;
  }

  /**
   * Append records written elsewhere (`ledger import`), byte for byte, after
   * this ledger's last record: they must continue its chain. The caller holds
   * the lock and has verified them.
   */
  async appendLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const { line, torn } = await this.store.readTail();
    if (torn)
      throw new KaupangError(
        "ERR_LEDGER_CORRUPT",
        `${this.location} ends with a torn record; append one record first (it keeps the torn bytes aside)`,
      );
    const records = this.parse(lines);
    const last = line ? this.parse([line], 0)[0] : undefined;
    if (records[0]!.prev !== (last?.hash ?? null) || records[0]!.seq !== (last?.seq ?? 0) + 1)
      throw new KaupangError(
        "ERR_LEDGER_CHANGED",
        `${this.location} changed: the records to import no longer continue it; nothing was written`,
      );
    // In batches of at most appendBatchBytes, each with its own anchor: a store that keeps the
    // newest records in one object (Kubernetes: the head Secret, at most 1 MiB) seals between
    // batches, and an import cut short leaves a verifiable prefix that importing again completes.
    let batch: RecordLine[] = [];
    let bytes = 0;
    for (const [i, l] of lines.entries()) {
      const size = Buffer.byteLength(l) + 1;
      if (batch.length > 0 && bytes + size > appendBatchBytes) {
        await this.store.append(batch, anchorAfter(records[i - 1]!));
        batch = [];
        bytes = 0;
      }
      batch.push({ line: l, seq: records[i]!.seq });
      bytes += size;
    }
    await this.store.append(batch, anchorAfter(records.at(-1)!));
  }
}

/** The most record bytes `appendLines` hands a store in one append. */
export const appendBatchBytes = 256 * 1024;

const sha256Bytes = (bytes: Buffer): string => `sha256:${hash("sha256", bytes, "hex")}`;

/** The head anchor after `last`: one line of JSON. */
const anchorAfter = (last: LedgerRecord): string =>
  `${JSON.stringify({ v: 1, count: last.seq, hash: last.hash, id: last.id, at: new Date().toISOString() } satisfies Anchor)}\n`;

/** The ledger of environment@target at `location`. */
export function ledgerAt(
  location: StoreLocation,
  scope: Scope,
  options: { kaupangVersion?: string | undefined; cache?: boolean } = {},
): Ledger {
  return new Ledger(stateStore(location, scope, options.cache === false ? { cache: false } : {}), options);
}

/**
 * Close deploys whose process ended without recording an outcome (killed,
 * or the machine stopped): each open `started` record gets an `interrupted`
 * record with `reason`. The caller holds the scope's lock. Deploys of one
 * scope never overlap, so only the last record can be open.
 */
export async function closeOpenDeployments(ledger: Ledger, reason: string): Promise<LedgerRecord[]> {
  const last = await ledger.last();
  if (last?.status !== "started") return [];
  const { v: _v, seq: _seq, prev: _prev, hash: _hash, by: _by, kaupang: _k, torn: _t, ...started } = last;
  return [
    await ledger.append({
      ...started,
      status: "interrupted",
      error: reason,
      endedAt: new Date().toISOString(),
    }),
  ];
}
