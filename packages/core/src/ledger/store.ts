/**
 * Where one environment@target keeps its deploy state: the record log, the
 * deployment units it names, the lock and the head anchor. The ledger's
 * logic (hash chain, sequence, anchor check, lock waits, leases and
 * takeovers) is written once against this interface; a store only keeps
 * bytes.
 *
 * `fileStore` is the local implementation (files under cacheDir). The stores
 * on the target (state: "target") implement the same methods over a
 * Kubernetes Lease and Secrets (kube-store.ts), swarm configs and engine
 * volumes (object-store.ts over engine-space.ts); state-store.ts chooses.
 *
 * Contract for implementations:
 * - records are lines of JSON without their newline, appended in order, each
 *   with its sequence number; the caller holds the lock while it appends.
 *   `readRecords` returns every complete one, and any bytes after the last
 *   complete one (a write torn by a crash) as `torn`; a store whose writes
 *   are atomic never has one.
 * - `append(records, anchor, torn)` is a compare-and-swap on the tail: it
 *   first cuts `torn` (what the caller read and set aside with `saveTorn`),
 *   appends, and sets the head anchor to `anchor` (in one write where the
 *   store can); it fails with ERR_LEDGER_CHANGED, writing nothing, if the
 *   tail is no longer what `readTail` returned (someone wrote meanwhile).
 * - units are immutable, addressed by the sha256 of their text.
 * - the lock: `createLock` is atomic create-if-absent; `readLock` gives its
 *   text and a version that changes with every write of it (taking, renewing,
 *   rewriting); `removeLock(version)` removes it only while it is still that
 *   version. A store shared by machines has a `leaseMs`: its holders renew
 *   (`replaceLock`) well within it, and a lock whose version has not changed
 *   for a whole lease may be taken over (lock.ts).
 */

import { hash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { KaupangError } from "../base/errors.js";
import { writeFileAtomic } from "../base/fs.js";

export interface Scope {
  environment: string;
  target: string;
  /**
   * One of the target's hosts (its URL), for a target with hosts: each host
   * has its own records and head anchor. Kept locally, the lock stays one per
   * environment@target, shared by its hosts; kept on the target, each host's
   * engine has its own lock, and a run takes the lock of every host it acts on.
   */
  host?: string | undefined;
}

/** A file name for one of a target's hosts: its URL without the scheme, other characters than [\w@.:-] as "_". */
export function hostKey(host: string): string {
  return host.replace(/^[a-z]+:\/\//, "").replace(/[^\w@.:-]/g, "_");
}

/**
 * A short key for environment@target of a project, naming its objects on a
 * target (the exact names are in their labels): the first 12 hex digits of
 * sha256(project NUL environment NUL target), with NUL host after it for one
 * of a target's hosts (so two hosts that are one engine keep apart).
 */
export function scopeKey(project: string, scope: Scope): string {
  const host = scope.host ? `\0${scope.host}` : "";
  return hash("sha256", `${project}\0${scope.environment}\0${scope.target}${host}`, "hex").slice(0, 12);
}

/** A lock as stored: the holder's text, and a version that changes whenever it is written. */
export interface LockState {
  text: string;
  version: string;
}

/** The end of the record log: the last complete line, bytes torn after it, and the head anchor. */
export interface Tail {
  line?: string;
  torn?: Buffer;
  anchor?: string;
}

/** One record line to append, and its sequence number. */
export interface RecordLine {
  line: string;
  seq: number;
}

export interface StateStore {
  readonly scope: Scope;
  /** Where the records live, as a user reads it in messages. */
  readonly location: string;
  /** Where the lock lives, as a user reads it in messages. */
  readonly lockLocation: string;
  /** Where the head anchor lives, as a user reads it in messages. */
  readonly anchorLocation: string;
  /**
   * Set when machines share the store: a holder's lease (ms), renewed by
   * `replaceLock`; a lock unchanged for a whole lease is expired. A local
   * store has none: its holders are processes of this host, judged by pid.
   */
  readonly leaseMs?: number;

  /** Every complete record line, oldest first, and bytes after the last one (a torn write). */
  readRecords(): Promise<{ lines: string[]; torn?: Buffer }>;
  /** The last complete record line (cheaply: only the tail), a torn write after it, and the head anchor. */
  readTail(): Promise<Tail>;
  /** Keep a torn tail before it is cut; returns where it was kept (as users read it). */
  saveTorn(torn: Buffer, seq: number): Promise<string>;
  /** Append record lines (no newline) and set the head anchor; cuts `torn` first when given. */
  append(records: readonly RecordLine[], anchor: string, torn?: Buffer): Promise<void>;
  readAnchor(): Promise<string | undefined>;

  putUnit(digest: string, text: string): Promise<void>;
  /** The unit's text, or undefined when it is not stored. (The caller checks the digest.) */
  getUnit(digest: string): Promise<string | undefined>;
  /**
   * Which of `digests` are stored. A store that reads units cheaply (files)
   * also checks each text against its digest; a store on a target answers
   * from one listing, and the text is checked whenever it is read.
   */
  hasUnits(digests: readonly string[]): Promise<Set<string>>;
  /** Where a unit is kept, for messages. */
  unitLocation(digest: string): string;

  /** Create the lock holding `text`: its version, or undefined when a lock exists. */
  createLock(text: string): Promise<string | undefined>;
  /** The lock's text and version; undefined when there is no lock. */
  readLock(): Promise<LockState | undefined>;
  /**
   * Rewrite (and so renew) the lock this process holds: its new version.
   * Throws ERR_LOCK_LOST when it is no longer held (taken over after its lease expired).
   */
  replaceLock(text: string): Promise<string>;
  /** Remove the lock; with `ifVersion`, only while it is still that version. True when removed. */
  removeLock(ifVersion?: string): Promise<boolean>;
}

/** Locks this process created in files, removed if it exits without releasing them. */
const heldFiles = new Map<string, string>();
let exitHook = false;
function holdFile(path: string, text: string): void {
  heldFiles.set(path, text);
  if (exitHook) return;
  exitHook = true;
  process.once("exit", () => {
    for (const [file, mine] of heldFiles) {
      try {
        if (readFileSync(file, "utf8") === mine) unlinkSync(file);
      } catch {
        // already gone
      }
    }
  });
}

const hex = (digest: string) => digest.slice(digest.indexOf(":") + 1);

/** Read the tail of an open file: the last complete line and the bytes after it. */
function readTail(fd: number): { line?: string; torn?: Buffer } {
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
    const torn = buffer.subarray(last + 1);
    return {
      line: buffer.subarray(previous + 1, last).toString("utf8"),
      ...(torn.length > 0 ? { torn: Buffer.from(torn) } : {}),
    };
  }
  return size > 0 ? { torn: buffer } : {};
}

/**
 * The local store: `<cacheDir>/ledger/<env>@<target>.jsonl` (records, one per
 * line), `<cacheDir>/ledger/objects/<hex>.json` (units),
 * `<cacheDir>/ledger/torn/<env>@<target>.<seq>.part` (torn tails set aside),
 * `<cacheDir>/locks/<env>@<target>.lock` (the lock) and
 * `<cacheDir>/locks/<env>@<target>.head` (the head anchor, beside the lock and
 * apart from the records, so restoring or cutting the ledger file does not
 * carry it along). For one of a target's hosts, records and anchor are
 * `ledger/<env>@<target>/<host key>.jsonl` and `locks/<env>@<target>/<host key>.head`.
 */
export function fileStore(cacheDir: string, scope: Scope, options: { root?: string } = {}): StateStore {
  const name = `${scope.environment}@${scope.target}`;
  const own = scope.host ? join(name, hostKey(scope.host)) : name;
  const path = join(cacheDir, "ledger", `${own}.jsonl`);
  const objects = join(cacheDir, "ledger", "objects");
  const lockPath = join(cacheDir, "locks", `${name}.lock`);
  const anchorPath = join(cacheDir, "locks", `${own}.head`);
  const show = (file: string) => (options.root ? relative(options.root, file) : file);
  const unitFile = (digest: string) => join(objects, `${hex(digest)}.json`);
  const readAnchor = async () => (existsSync(anchorPath) ? readFile(anchorPath, "utf8") : undefined);
  const readLockText = () => {
    try {
      return readFileSync(lockPath, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  };

  return {
    scope,
    location: show(path),
    lockLocation: show(lockPath),
    anchorLocation: show(anchorPath),

    async readRecords() {
      if (!existsSync(path)) return { lines: [] };
      const bytes = await readFile(path);
      const end = bytes.lastIndexOf(10);
      const lines = end === -1 ? [] : bytes.subarray(0, end).toString("utf8").split("\n");
      const torn = bytes.subarray(end + 1);
      return { lines, ...(torn.length > 0 ? { torn: Buffer.from(torn) } : {}) };
    },

    async readTail() {
      const anchor = await readAnchor();
      if (!existsSync(path)) return anchor === undefined ? {} : { anchor };
      const fd = openSync(path, "r");
      try {
        return { ...readTail(fd), ...(anchor === undefined ? {} : { anchor }) };
      } finally {
        closeSync(fd);
      }
    },

    async saveTorn(torn, seq) {
      const file = join(cacheDir, "ledger", "torn", `${own.replace("/", ".")}.${seq}.part`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, torn);
      return show(file);
    },

    async append(records, anchor, torn) {
      mkdirSync(dirname(path), { recursive: true });
      const fd = openSync(path, "a+");
      try {
        const tail = readTail(fd);
        if (tail.torn || torn) {
          if (!torn || !tail.torn?.equals(torn)) {
            throw new KaupangError(
              "ERR_LEDGER_CHANGED",
              `${show(path)} changed while a record was being appended; nothing was written`,
              { hint: "another process wrote to it without holding the lock: run the command again" },
            );
          }
          ftruncateSync(fd, fstatSync(fd).size - torn.length);
        }
        writeSync(fd, records.map((r) => `${r.line}\n`).join(""));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // The anchor is written apart from the records (and after them): restoring
      // or cutting the ledger file does not carry it along.
      mkdirSync(dirname(anchorPath), { recursive: true });
      const temp = `${anchorPath}.${process.pid}.tmp`;
      await writeFile(temp, anchor);
      await rename(temp, anchorPath);
    },

    readAnchor,

    async putUnit(digest, text) {
      const file = unitFile(digest);
      if (!existsSync(file)) await writeFileAtomic(file, text);
    },

    async getUnit(digest) {
      const file = unitFile(digest);
      return existsSync(file) ? readFile(file, "utf8") : undefined;
    },

    async hasUnits(digests) {
      const present = new Set<string>();
      for (const digest of digests) {
        const file = unitFile(digest);
        if (existsSync(file) && sha256Of(await readFile(file)) === digest) present.add(digest);
      }
      return present;
    },

    unitLocation: (digest) => show(unitFile(digest)),

    async createLock(text) {
      mkdirSync(dirname(lockPath), { recursive: true });
      // Written to a private file first and hard-linked into place: link() is
      // atomic and fails if the lock exists, so no reader sees half a lock.
      const staging = `${lockPath}.${process.pid}.${Date.now()}`;
      writeFileSync(staging, text);
      try {
        linkSync(staging, lockPath);
        holdFile(lockPath, text);
        return text;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return undefined;
        throw error;
      } finally {
        unlinkSync(staging);
      }
    },

    async readLock() {
      // A file lock's version is its text: every write of it changes what it says.
      const text = readLockText();
      return text === undefined ? undefined : { text, version: text };
    },

    async replaceLock(text) {
      // Synchronous on purpose: the holder records a child's process group the
      // moment it starts, so a kill right after leaves as small a gap as can be.
      const temp = `${lockPath}.${process.pid}.tmp`;
      writeFileSync(temp, text);
      renameSync(temp, lockPath);
      holdFile(lockPath, text);
      return text;
    },

    async removeLock(ifVersion) {
      try {
        if (ifVersion !== undefined && readLockText() !== ifVersion) return false;
        unlinkSync(lockPath);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      } finally {
        if (heldFiles.get(lockPath) === ifVersion || ifVersion === undefined) heldFiles.delete(lockPath);
      }
    },
  };
}

const sha256Of = (bytes: Buffer): string => `sha256:${hash("sha256", bytes, "hex")}`;

/** The host a per-host ledger's first record names (for a host no longer in the config). */
function hostOfLedger(path: string): string | undefined {
  const text = readFileSync(path, "utf8");
  const first = text.slice(0, text.indexOf("\n") + 1 || undefined);
  try {
    return (JSON.parse(first) as { host?: string }).host;
  } catch {
    return undefined;
  }
}

/**
 * The scopes that have records under `cacheDir`: `<env>@<target>.jsonl`, and
 * `<env>@<target>/` holding one ledger per host (the host named by `hosts`,
 * the target's configured hosts, else by the ledger's first record).
 */
export function fileScopes(
  cacheDir: string,
  hosts: (target: string) => readonly string[],
  root?: string,
): Scope[] {
  const dir = join(cacheDir, "ledger");
  if (!existsSync(dir)) return [];
  const scopes: Scope[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const perHost = entry.isDirectory() && entry.name.includes("@");
    if (!perHost && !entry.name.endsWith(".jsonl")) continue;
    const [environment, target] = entry.name.replace(/\.jsonl$/, "").split("@") as [string, string];
    if (!perHost) {
      scopes.push({ environment, target });
      continue;
    }
    for (const file of readdirSync(join(dir, entry.name))
      .filter((f) => f.endsWith(".jsonl"))
      .sort()) {
      const path = join(dir, entry.name, file);
      const host = hosts(target).find((h) => `${hostKey(h)}.jsonl` === file) ?? hostOfLedger(path);
      if (!host) {
        throw new KaupangError(
          "ERR_LEDGER_CORRUPT",
          `${root ? relative(root, path) : path}: not a host of target "${target}", and its first record names none`,
        );
      }
      scopes.push({ environment, target, host });
    }
  }
  return scopes;
}
