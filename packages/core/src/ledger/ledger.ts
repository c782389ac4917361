/**
 * The deploy ledger of one environment@target: `<cacheDir>/ledger/<env>@<target>.jsonl`,
 * one JSON record per line, append-only and hash-chained (each record carries
 * the hash of the one before it, and its own). The replayable deployment unit
 * (artifact, waves, commands) is stored content-addressed in
 * `ledger/objects/<sha256>.json`, so records stay small and identical deploys
 * share one object.
 *
 * Crash safety: objects are written temp-file + rename before the record that
 * names them; a record is one appended line, fsynced. A line torn by a crash
 * (no trailing newline) is ignored on read and cut off by the next append, so
 * every earlier record stays intact. Appending reads only the file's tail, so
 * it costs the same at 10 or 10,000 records.
 */
import { hash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname, join, relative } from "node:path";
import { KaupangError } from "../base/errors.js";
import { writeFileAtomic } from "../base/fs.js";
import { completeUnit, type DeploymentUnit, type StoredUnit } from "../plan/unit.js";
import { type LedgerRecord, ledgerRecordSchema, ledgerVersion } from "./record.js";

/** crypto.hash (Node ≥ 20.12) is one call instead of three objects: ~3× faster on 10,000 short records. */
export const sha256 = (text: string): string => `sha256:${hash("sha256", text, "hex")}`;

/** The content address of a deployment unit: equal units, equal digests. */
export const unitDigest = (unit: DeploymentUnit): string => sha256(JSON.stringify(unit));

export function ledgerDir(cacheDir: string): string {
  return join(cacheDir, "ledger");
}

export function ledgerPath(cacheDir: string, environment: string, target: string): string {
  return join(ledgerDir(cacheDir), `${environment}@${target}.jsonl`);
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

export type NewRecord = Omit<LedgerRecord, "v" | "seq" | "prev" | "hash" | "by" | "kaupang"> & {
  by?: LedgerRecord["by"];
  kaupang?: string;
};

function whoami(): LedgerRecord["by"] {
  let user = process.env.USER ?? "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep $USER
  }
  return { user, host: hostname() };
}

export class Ledger {
  readonly path: string;
  readonly objectsDir: string;
  private readonly display: string;

  constructor(
    readonly cacheDir: string,
    readonly environment: string,
    readonly target: string,
    options: { root?: string; kaupangVersion?: string } = {},
  ) {
    this.path = ledgerPath(cacheDir, environment, target);
    this.objectsDir = join(ledgerDir(cacheDir), "objects");
    this.display = options.root ? relative(options.root, this.path) : this.path;
    this.version = options.kaupangVersion ?? "0.0.0";
  }

  private readonly version: string;

  /** All records, validated; a malformed line is an error naming file and line. */
  read(): LedgerRead {
    if (!existsSync(this.path)) return { records: [], tornTail: false };
    const text = readFileSync(this.path, "utf8");
    const lines = text.split("\n");
    const tornTail = lines[lines.length - 1] !== "";
    const complete = lines.slice(0, -1);
    // One JSON.parse of the whole history is several times faster than one per
    // line; a line that is not JSON is then found line by line, to name it.
    let values: unknown[] | undefined;
    try {
      values = JSON.parse(`[${complete.join(",")}]`) as unknown[];
      if (values.length !== complete.length) values = undefined;
    } catch {
      values = undefined;
    }
    const schema = ledgerRecordSchema(complete.length);
    const records = complete.map((line, i) => {
      let value: unknown = values?.[i];
      if (values === undefined)
        try {
          value = JSON.parse(line);
        } catch {
          throw new KaupangError("ERR_LEDGER_CORRUPT", `${this.display} line ${i + 1}: not valid JSON`, {
            hint: "the ledger was edited or damaged; `kaupang ledger verify` shows where, nothing was changed",
          });
        }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new KaupangError(
          "ERR_LEDGER_CORRUPT",
          `${this.display} line ${i + 1}: ${issue.path.join(".") || "record"}: ${issue.message}`,
          { hint: "the ledger was edited or damaged; nothing was changed" },
        );
      }
      return parsed.data;
    });
    return { records, lines: complete, tornTail };
  }

  /** Check every link of the chain; throws naming the first broken record. */
  verify(read: LedgerRead = this.read()): { records: number; tornTail: boolean } {
    let prev: string | null = null;
    // Many records share one deployment object (unchanged deploys): check each once.
    const checkedUnits = new Map<string, boolean>();
    read.records.forEach((record, i) => {
      const where = `${this.display} line ${i + 1} (record ${record.id})`;
      const line = read.lines?.[i];
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
      if (record.unit && !checkedUnits.has(record.unit))
        checkedUnits.set(record.unit, this.readUnitText(record.unit) !== undefined);
      if (record.unit && !checkedUnits.get(record.unit)) {
        throw new KaupangError(
          "ERR_LEDGER_TAMPERED",
          `${where}: its deployment object ${record.unit} is missing or modified`,
        );
      }
      prev = record.hash;
    });
    return { records: read.records.length, tornTail: read.tornTail };
  }

  /** Store a deployment unit content-addressed; returns its digest. */
  async storeUnit(unit: DeploymentUnit): Promise<string> {
    const text = JSON.stringify(unit);
    const digest = unitDigest(unit);
    const file = join(this.objectsDir, `${digest.slice("sha256:".length)}.json`);
    if (!existsSync(file)) await writeFileAtomic(file, text);
    return digest;
  }

  private readUnitText(digest: string): string | undefined {
    const file = join(this.objectsDir, `${digest.slice("sha256:".length)}.json`);
    if (!existsSync(file)) return undefined;
    const text = readFileSync(file, "utf8");
    return sha256(text) === digest ? text : undefined;
  }

  /** The deployment unit a record names, checked against its digest (and completed, if an older kaupang stored it). */
  readUnit(record: LedgerRecord): DeploymentUnit {
    if (!record.unit) {
      throw new KaupangError(
        "ERR_LEDGER_CORRUPT",
        `${this.display}: record ${record.id} has no deployment to replay`,
      );
    }
    const text = this.readUnitText(record.unit);
    if (!text) {
      throw new KaupangError(
        "ERR_LEDGER_TAMPERED",
        `${this.display}: the deployment object of record ${record.id} is missing or modified`,
        {
          hint: `expected ${join(this.objectsDir, `${record.unit.slice(7)}.json`)} with that digest`,
        },
      );
    }
    return completeUnit(JSON.parse(text) as StoredUnit);
  }

  /**
   * The last complete record, read from the file's end without reading the
   * whole file; a torn last line (a crash mid-append) is cut off the file here.
   */
  private lastRecordCuttingTornTail(fd: number): LedgerRecord | undefined {
    const size = fstatSync(fd).size;
    let start = size;
    let buffer = Buffer.alloc(0);
    while (start > 0) {
      const from = Math.max(0, start - 64 * 1024);
      const piece = Buffer.alloc(start - from);
      readSync(fd, piece, 0, piece.length, from);
      buffer = Buffer.concat([piece, buffer]);
      start = from;
      const last = buffer.lastIndexOf(10);
      if (last === -1) continue;
      const previous = last === 0 ? -1 : buffer.lastIndexOf(10, last - 1);
      if (previous === -1 && start > 0) continue;
      if (start + last + 1 < size) ftruncateSync(fd, start + last + 1);
      return ledgerRecordSchema(1).parse(JSON.parse(buffer.subarray(previous + 1, last).toString("utf8")));
    }
    // No complete line at all: whatever is there is a torn first record.
    if (size > 0) ftruncateSync(fd, 0);
    return undefined;
  }

  /** Append one record, chained to the last; the caller holds the environment's lock. */
  append(entry: NewRecord): LedgerRecord {
    mkdirSync(dirname(this.path), { recursive: true });
    const fd = openSync(this.path, "a+");
    try {
      const last = this.lastRecordCuttingTornTail(fd);
      const content = {
        v: ledgerVersion as typeof ledgerVersion,
        seq: (last?.seq ?? 0) + 1,
        id: entry.id,
        at: entry.at,
        by: entry.by ?? whoami(),
        kaupang: entry.kaupang ?? this.version,
        project: entry.project,
        environment: entry.environment,
        target: entry.target,
        backend: entry.backend,
        action: entry.action,
        status: entry.status,
        ...(entry.failedStep ? { failedStep: entry.failedStep } : {}),
        ...(entry.error ? { error: entry.error } : {}),
        ...(entry.rollbackOf ? { rollbackOf: entry.rollbackOf } : {}),
        ...(entry.source ? { source: entry.source } : {}),
        images: entry.images,
        ...(entry.unit ? { unit: entry.unit } : {}),
        prev: last?.hash ?? null,
      };
      const record = { ...content, hash: recordHash(content) } as LedgerRecord;
      writeSync(fd, `${JSON.stringify(record)}\n`);
      fsyncSync(fd);
      return record;
    } finally {
      closeSync(fd);
    }
  }
}
