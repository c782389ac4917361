/**
 * A StateStore over an ObjectSpace: named objects that can be created — only
 * if the name is free, atomically —, read, listed by kind and removed, but
 * never changed. Swarm configs and Docker engine volumes are such spaces
 * (engine-space.ts). Everything that needs atomicity is a create:
 *
 *   r.<seq>        one record (its line). Two writers of record N both create
 *                  r.<N> and only one succeeds: appends are compare-and-swap.
 *   h.<count>      the head anchor after record <count>; the appender removes older ones.
 *   u.<hex40>      a unit (its full digest in a label). Past the space's size
 *                  limit its text is in parts p.<hex32>.<i>, created first.
 *   l.<g>          the lock, generation g: created by the holder with its text.
 *                  The lock is held when the highest generation has no f.<g>.
 *                  Taking it means creating l.<g+1>: one creator wins.
 *   b.<g>.<k>      renewal k of generation g, with the holder's text now (its
 *                  lease and children); the holder removes the one before.
 *   f.<g>          generation g released (or taken over after its lease ran out).
 *
 * Nothing is changed in place, so no reader sees half an object, and the only
 * removals are of objects no decision depends on any more: older heads, older
 * renewals, generations below the held one.
 */
import { KaupangError } from "../base/errors.js";
import type { LockState, RecordLine, Scope, StateStore, Tail } from "./store.js";

/** One object of a space, named inside its scope ("r.12"), with its text and extra labels. */
export interface SpaceObject {
  name: string;
  data: string;
  labels: Record<string, string>;
}

/** The kinds of object a space lists (a label on each). */
export type ObjectKind = "record" | "head" | "unit" | "part" | "lock";

export interface ObjectSpace {
  /** Where the objects live, as a user reads it ("swarm configs kaupang.1f2e….* via docker context x"). */
  readonly location: string;
  /** The most text one object holds. */
  readonly maxData: number;
  /** Create an object if its name is free: true when this call created it. */
  create(name: string, kind: ObjectKind, data: string, labels?: Record<string, string>): Promise<boolean>;
  get(name: string): Promise<SpaceObject | undefined>;
  list(kind: ObjectKind): Promise<SpaceObject[]>;
  /** Remove an object; one already gone is no error. */
  remove(name: string): Promise<void>;
  /** Where one object lives, for messages. */
  objectLocation(name: string): string;
}

const hexOf = (digest: string) => digest.slice(digest.indexOf(":") + 1);
const numberAfter = (name: string, prefix: string) => Number(name.slice(prefix.length));

/** Split text into pieces of at most `max` UTF-8 bytes, never inside a character. */
function pieces(text: string, max: number): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < text.length) {
    // Each UTF-16 unit is at most 3 bytes in UTF-8 (a surrogate pair, 2 units, is 4).
    let end = Math.min(text.length, at + Math.floor(max / 3));
    const code = text.charCodeAt(end - 1);
    if (end < text.length && code >= 0xd800 && code <= 0xdbff) end--;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

interface LockObjects {
  /** The highest generation, and whether it was released. */
  generation?: number;
  free?: boolean;
  text?: string;
  /** The latest renewal of the highest generation (0: none yet). */
  renewal: number;
  /** Every lock object's name, for removing older generations. */
  names: string[];
}

function lockObjects(objects: readonly SpaceObject[]): LockObjects {
  let generation: number | undefined;
  for (const o of objects)
    if (o.name.startsWith("l.")) generation = Math.max(generation ?? 0, numberAfter(o.name, "l."));
  const state: LockObjects = { renewal: 0, names: objects.map((o) => o.name) };
  if (generation === undefined) return state;
  state.generation = generation;
  state.free = objects.some((o) => o.name === `f.${generation}`);
  state.text = objects.find((o) => o.name === `l.${generation}`)?.data;
  for (const o of objects) {
    const [kind, g, k] = o.name.split(".");
    if (kind !== "b" || Number(g) !== generation || Number(k) <= state.renewal) continue;
    state.renewal = Number(k);
    state.text = o.data;
  }
  return state;
}

const generationOf = (name: string): number => Number(name.split(".")[1]);

export function objectStore(
  space: ObjectSpace,
  scope: Scope,
  options: { leaseMs: number; lockLocation: string },
): StateStore {
  /** The heads seen by the last readTail: the next append removes them. */
  let seenHeads: string[] = [];
  /** The generation and renewal of the lock this process holds. */
  let mine: { generation: number; renewal: number } | undefined;

  const readLockObjects = async () => lockObjects(await space.list("lock"));
  const readRecords = async () => {
    const records = (await space.list("record"))
      .map((o) => ({ seq: numberAfter(o.name, "r."), line: o.data }))
      .sort((a, b) => a.seq - b.seq);
    return { lines: records.map((r) => r.line) };
  };

  const changed = (seq: number) =>
    new KaupangError(
      "ERR_LEDGER_CHANGED",
      `${space.location}: record ${seq} was written by another process meanwhile; nothing was written`,
      { hint: "another deploy wrote without holding the lock (its lease ran out?): run the command again" },
    );

  return {
    scope,
    location: space.location,
    lockLocation: options.lockLocation,
    anchorLocation: `${space.location} (head anchors)`,
    leaseMs: options.leaseMs,

    readRecords,

    async readTail(): Promise<Tail> {
      const heads = (await space.list("head")).sort(
        (a, b) => numberAfter(a.name, "h.") - numberAfter(b.name, "h."),
      );
      seenHeads = heads.map((h) => h.name);
      const head = heads.at(-1);
      if (!head) {
        const { lines } = await readRecords();
        return lines.length > 0 ? { line: lines.at(-1)! } : {};
      }
      // Records written after the anchor (a writer stopped between the two) are part of the log too.
      let seq = numberAfter(head.name, "h.");
      let [line, next] = await Promise.all([space.get(`r.${seq}`), space.get(`r.${seq + 1}`)]);
      while (next) {
        seq++;
        line = next;
        next = await space.get(`r.${seq + 1}`);
      }
      if (line) return { line: line.data, anchor: head.data };
      // The anchored record is gone: the ledger's anchor check names what was cut.
      const last = (await readRecords()).lines.at(-1);
      return { ...(last ? { line: last } : {}), anchor: head.data };
    },

    async saveTorn() {
      throw new Error("a store of whole objects never has a torn record");
    },

    async append(records: readonly RecordLine[], anchor: string) {
      const [first, ...rest] = records;
      if (!first) return;
      if (!(await space.create(`r.${first.seq}`, "record", first.line))) throw changed(first.seq);
      for (let i = 0; i < rest.length; i += 16) {
        const batch = rest.slice(i, i + 16);
        const created = await Promise.all(batch.map((r) => space.create(`r.${r.seq}`, "record", r.line)));
        const lost = created.indexOf(false);
        if (lost !== -1) throw changed(batch[lost]!.seq);
      }
      const count = records.at(-1)!.seq;
      await space.create(`h.${count}`, "head", anchor);
      const older = seenHeads.filter((h) => numberAfter(h, "h.") < count);
      seenHeads = [`h.${count}`];
      await Promise.all(older.map((h) => space.remove(h)));
    },

    async readAnchor() {
      const heads = await space.list("head");
      let best: SpaceObject | undefined;
      for (const h of heads) if (!best || numberAfter(h.name, "h.") > numberAfter(best.name, "h.")) best = h;
      return best?.data;
    },

    async putUnit(digest, text) {
      const hex = hexOf(digest);
      const name = `u.${hex.slice(0, 40)}`;
      if (Buffer.byteLength(text) <= space.maxData) {
        await space.create(name, "unit", text, { "kaupang.dev/digest": digest });
        return;
      }
      const parts = pieces(text, space.maxData);
      // Parts first: a unit object that exists is complete.
      await Promise.all(parts.map((part, i) => space.create(`p.${hex.slice(0, 32)}.${i}`, "part", part)));
      // Its text is in the parts; the object says how many (never empty: swarm refuses a config without data).
      await space.create(name, "unit", `${parts.length} parts`, {
        "kaupang.dev/digest": digest,
        "kaupang.dev/parts": String(parts.length),
      });
    },

    async getUnit(digest) {
      const hex = hexOf(digest);
      const unit = await space.get(`u.${hex.slice(0, 40)}`);
      if (!unit) return undefined;
      const count = Number(unit.labels["kaupang.dev/parts"] ?? 0);
      if (count === 0) return unit.data;
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) => space.get(`p.${hex.slice(0, 32)}.${i}`)),
      );
      return parts.some((p) => p === undefined) ? undefined : parts.map((p) => p!.data).join("");
    },

    async hasUnits(digests) {
      if (digests.length === 0) return new Set();
      const stored = new Set((await space.list("unit")).map((u) => u.labels["kaupang.dev/digest"]));
      return new Set(digests.filter((d) => stored.has(d)));
    },

    unitLocation: (digest) => space.objectLocation(`u.${hexOf(digest).slice(0, 40)}`),

    async createLock(text) {
      const state = await readLockObjects();
      if (state.generation !== undefined && !state.free) return undefined;
      const generation = (state.generation ?? 0) + 1;
      if (!(await space.create(`l.${generation}`, "lock", text))) return undefined;
      mine = { generation, renewal: 0 };
      // Generations below the one held now decide nothing any more.
      await Promise.all(state.names.filter((n) => generationOf(n) < generation).map((n) => space.remove(n)));
      return `${generation}.0`;
    },

    async readLock(): Promise<LockState | undefined> {
      const state = await readLockObjects();
      if (state.generation === undefined || state.free || state.text === undefined) return undefined;
      return { text: state.text, version: `${state.generation}.${state.renewal}` };
    },

    async replaceLock(text) {
      if (!mine) throw new Error("replaceLock: this process holds no lock here");
      const { generation, renewal } = mine;
      const next = renewal + 1;
      const lost = () =>
        new KaupangError(
          "ERR_LOCK_LOST",
          `lost the lock of ${scope.environment}@${scope.target}: another run took it over after its lease ran out`,
        );
      if (!(await space.create(`b.${generation}.${next}`, "lock", text))) throw lost();
      const state = await readLockObjects();
      if (state.generation !== generation || state.free) {
        mine = undefined;
        await space.remove(`b.${generation}.${next}`);
        throw lost();
      }
      mine = { generation, renewal: next };
      if (renewal > 0) await space.remove(`b.${generation}.${renewal}`);
      return `${generation}.${next}`;
    },

    async removeLock(ifVersion) {
      const state = await readLockObjects();
      if (state.generation === undefined || state.free) return false;
      if (ifVersion !== undefined && ifVersion !== `${state.generation}.${state.renewal}`) return false;
      // Never empty: swarm refuses a config without data.
      const removed = await space.create(
        `f.${state.generation}`,
        "lock",
        `released ${new Date().toISOString()}`,
      );
      if (mine?.generation === state.generation) mine = undefined;
      return removed;
    },
  };
}
