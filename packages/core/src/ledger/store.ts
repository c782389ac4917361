/**
 * Where one environment@target keeps its deploy state: the record log, the
 * deployment units it names, the lock and the head anchor. The ledger's
 * logic (hash chain, sequence, anchor check, lock waits and takeovers) is
 * written once against this interface; a store only keeps bytes.
 *
 * `fileStore` is the local implementation (today's files under cacheDir). A
 * store on the target (a Kubernetes Lease and Secrets, swarm configs, the
 * engine) implements the same methods; every method is async for that reason.
 *
 * Contract for implementations:
 * - records are lines of JSON without their newline, appended in order; the
 *   caller holds the lock while it appends. `readRecords` returns every
 *   complete one, and any bytes after the last complete one (a write torn by
 *   a crash) as `torn`; a store whose writes are atomic never has one.
 * - `appendRecord(line, torn)` first cuts `torn` (what the caller read and set
 *   aside with `saveTorn`), then appends; it fails if the tail is no longer
 *   that (someone wrote meanwhile).
 * - units are immutable, addressed by the sha256 of their text.
 * - `createLock` is atomic create-if-absent; `removeLock(text)` removes the
 *   lock only while it still holds `text`.
 */
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
   * has its own records and head anchor; the lock stays one per
   * environment@target, shared by its hosts.
   */
  host?: string | undefined;
}

/** A file name for one of a target's hosts: its URL without the scheme, other characters than [\w@.:-] as "_". */
export function hostKey(host: string): string {
  return host.replace(/^[a-z]+:\/\//, "").replace(/[^\w@.:-]/g, "_");
}

export interface StateStore {
  readonly scope: Scope;
  /** Where the records live, as a user reads it in messages. */
  readonly location: string;
  /** Where the lock lives, as a user reads it in messages. */
  readonly lockLocation: string;
  /** Where the head anchor lives, as a user reads it in messages. */
  readonly anchorLocation: string;

  /** Every complete record line, oldest first, and bytes after the last one (a torn write). */
  readRecords(): Promise<{ lines: string[]; torn?: Buffer }>;
  /** The last complete record line (cheaply: only the tail is read) and a torn write after it. */
  readLastRecord(): Promise<{ line?: string; torn?: Buffer }>;
  /** Keep a torn tail before it is cut; returns where it was kept (as users read it). */
  saveTorn(torn: Buffer, seq: number): Promise<string>;
  /** Append one record line (no newline), cutting `torn` first when given. */
  appendRecord(line: string, torn?: Buffer): Promise<void>;

  putUnit(digest: string, text: string): Promise<void>;
  /** The unit's text, or undefined when it is not stored. (The caller checks the digest.) */
  getUnit(digest: string): Promise<string | undefined>;
  /** Where a unit is kept, for messages. */
  unitLocation(digest: string): string;

  readAnchor(): Promise<string | undefined>;
  writeAnchor(text: string): Promise<void>;

  /** Create the lock holding `text`; false when a lock exists. */
  createLock(text: string): Promise<boolean>;
  /** The lock's text; undefined when there is no lock. */
  readLock(): Promise<string | undefined>;
  /** Replace the text of a lock this process holds. */
  replaceLock(text: string): Promise<void>;
  /** Remove the lock; with `ifText`, only while it still holds exactly that. True when removed. */
  removeLock(ifText?: string): Promise<boolean>;
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

    async readLastRecord() {
      if (!existsSync(path)) return {};
      const fd = openSync(path, "r");
      try {
        return readTail(fd);
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

    async appendRecord(line, torn) {
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
        writeSync(fd, `${line}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },

    async putUnit(digest, text) {
      const file = unitFile(digest);
      if (!existsSync(file)) await writeFileAtomic(file, text);
    },

    async getUnit(digest) {
      const file = unitFile(digest);
      return existsSync(file) ? readFile(file, "utf8") : undefined;
    },

    unitLocation: (digest) => show(unitFile(digest)),

    async readAnchor() {
      return existsSync(anchorPath) ? readFile(anchorPath, "utf8") : undefined;
    },

    async writeAnchor(text) {
      mkdirSync(dirname(anchorPath), { recursive: true });
      const temp = `${anchorPath}.${process.pid}.tmp`;
      await writeFile(temp, text);
      await rename(temp, anchorPath);
    },

    async createLock(text) {
      mkdirSync(dirname(lockPath), { recursive: true });
      // Written to a private file first and hard-linked into place: link() is
      // atomic and fails if the lock exists, so no reader sees half a lock.
      const staging = `${lockPath}.${process.pid}.${Date.now()}`;
      writeFileSync(staging, text);
      try {
        linkSync(staging, lockPath);
        holdFile(lockPath, text);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw error;
      } finally {
        unlinkSync(staging);
      }
    },

    async readLock() {
      try {
        return readFileSync(lockPath, "utf8");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw error;
      }
    },

    async replaceLock(text) {
      // Synchronous on purpose: the holder records a child's process group the
      // moment it starts, so a kill right after leaves as small a gap as can be.
      const temp = `${lockPath}.${process.pid}.tmp`;
      writeFileSync(temp, text);
      renameSync(temp, lockPath);
      holdFile(lockPath, text);
    },

    async removeLock(ifText) {
      try {
        if (ifText !== undefined && readFileSync(lockPath, "utf8") !== ifText) return false;
        unlinkSync(lockPath);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
        throw error;
      } finally {
        if (heldFiles.get(lockPath) === ifText || ifText === undefined) heldFiles.delete(lockPath);
      }
    },
  };
}

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
function fileScopes(cacheDir: string, hosts: (target: string) => readonly string[], root?: string): Scope[] {
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

/** Where a run keeps deploy state today: its cacheDir (root: what paths in messages are relative to). */
export interface StoreLocation {
  cacheDir: string;
  root?: string | undefined;
}

/**
 * The store of one environment@target. Every reader and writer of deploy
 * state gets its store here, so a store on the target is chosen in one place.
 */
export function stateStore(location: StoreLocation, scope: Scope): StateStore {
  return fileStore(location.cacheDir, scope, location.root ? { root: location.root } : {});
}

/**
 * Every environment@target (and host of a target with hosts) with records at
 * `location`; `hosts` names a target's configured hosts.
 */
export function stateScopes(
  location: StoreLocation,
  hosts: (target: string) => readonly string[] = () => [],
): Scope[] {
  return fileScopes(location.cacheDir, hosts, location.root);
}
