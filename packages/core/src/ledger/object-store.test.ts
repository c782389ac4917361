/**
 * The store of state on a target, over an in-memory space with the rule of
 * swarm configs and engine volumes (a name is created once): appends are
 * compare-and-swap, the anchor catches cut records, units past the size limit
 * are split, and the lock is taken, renewed, released and taken over by
 * generations — including after a holder on another machine stops renewing.
 */
import { describe, expect, it } from "vitest";
import type { DeploymentUnit } from "../plan/unit.js";
import { Ledger, type NewRecord } from "./ledger.js";
import { acquireLock, readLock } from "./lock.js";
import { objectStore } from "./object-store.js";
import type { StateStore } from "./store.js";
import { memorySpace } from "./testing/memory-space.js";

const scope = { environment: "api", target: "prod" };
const storeOn = (space = memorySpace(), leaseMs = 30_000) =>
  objectStore(space, scope, { leaseMs, lockLocation: "memory locks" });

const unit = (digest: string, padding = ""): DeploymentUnit => ({
  project: "p",
  target: { name: "prod", backend: "swarm", namespace: "p" },
  backend: "swarm",
  pull: "missing",
  environment: {
    environment: "api",
    file: "environments/api.json",
    dependsOn: [],
    waves: [["web"]],
    runOnce: [],
    replicas: { web: 1 },
    images: [{ service: "web", ref: "r/web:1", digest, pinned: true }],
    secrets: [],
    artifact: { path: ".kaupang/prod/api.stack.yaml", content: `image: r/web@${digest}\n${padding}` },
    views: {},
    hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] },
    commands: [],
  },
});

let n = 0;
const entry = (extra: Partial<NewRecord> = {}): NewRecord => {
  n++;
  return {
    id: `20260101T0000${String(n).padStart(2, "0")}Z-${String(n).padStart(4, "0")}`,
    at: new Date().toISOString(),
    project: "p",
    environment: "api",
    target: "prod",
    backend: "swarm",
    action: "up",
    status: "succeeded",
    images: [],
    ...extra,
  };
};

/** A holder of another machine, as its lock text says. */
const elsewhere = (lease = 1) =>
  JSON.stringify({
    v: 2,
    pid: 4242,
    host: "agent-elsewhere",
    user: "ci",
    since: new Date().toISOString(),
    command: "kaupang up api",
    lease,
  });

describe("state on a target: records", () => {
  it("appends, reads back and verifies a chain; the tail and anchor come from the newest head", async () => {
    const space = memorySpace();
    const ledger = new Ledger(storeOn(space));
    const digest = await ledger.storeUnit(unit(`sha256:${"a".repeat(64)}`));
    await ledger.append(entry({ unit: digest }));
    await ledger.append(entry({ unit: digest }));
    const third = await ledger.append(entry({ unit: digest }));
    expect((await ledger.read()).records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(await ledger.verify()).toMatchObject({ records: 3, anchor: "ok" });
    expect((await ledger.last())?.hash).toBe(third.hash);
    // Older heads are removed as the head moves.
    expect([...space.objects.keys()].filter((k) => k.startsWith("h."))).toEqual(["h.3"]);
  });

  it("two writers of the same record: one succeeds, the other writes nothing and says so", async () => {
    const space = memorySpace();
    const a = new Ledger(storeOn(space));
    const b = new Ledger(storeOn(space));
    await a.append(entry());
    const results = await Promise.allSettled([a.append(entry()), b.append(entry())]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(failed.reason).toMatchObject({ code: "ERR_LEDGER_CHANGED" });
    expect(failed.reason.message).toMatch(
      /record 2 was written by another process meanwhile; nothing was written/,
    );
    expect(await a.verify()).toMatchObject({ records: 2 });
  });

  it("a record written after its anchor (a writer stopped in between) is still the tail", async () => {
    const space = memorySpace();
    const ledger = new Ledger(storeOn(space));
    await ledger.append(entry());
    const create = space.create;
    space.create = async (name, ...rest) => {
      if (name === "h.2") throw new Error("killed");
      return create(name, ...rest);
    };
    await expect(ledger.append(entry())).rejects.toThrow("killed");
    space.create = create;
    expect([...space.objects.keys()].filter((k) => /^[rh]\./.test(k)).sort()).toEqual(["h.1", "r.1", "r.2"]);
    const third = await ledger.append(entry());
    expect(third.seq).toBe(3);
    expect(await ledger.verify()).toMatchObject({ records: 3, anchor: "ok" });
  });

  it("names records cut from the end, and refuses to append over the cut", async () => {
    const space = memorySpace();
    const ledger = new Ledger(storeOn(space));
    for (let i = 0; i < 3; i++) await ledger.append(entry());
    space.objects.delete("r.3");
    await expect(ledger.verify()).rejects.toThrow(/record 3 .* is missing/);
    await expect(ledger.append(entry())).rejects.toMatchObject({ code: "ERR_LEDGER_TRUNCATED" });
  });

  it("splits a unit past the space's size limit into parts and joins them on read", async () => {
    const space = memorySpace(4096);
    const ledger = new Ledger(storeOn(space));
    const big = unit(`sha256:${"b".repeat(64)}`, `# ${"é".repeat(10_000)}\n`);
    const digest = await ledger.storeUnit(big);
    expect([...space.objects.keys()].filter((k) => k.startsWith("p.")).length).toBeGreaterThan(5);
    const record = await ledger.append(entry({ unit: digest }));
    expect((await ledger.readUnit(record)).environment.artifact.content).toBe(
      big.environment.artifact.content,
    );
    expect(await ledger.verify(undefined, { deep: true })).toMatchObject({ records: 1 });
  });

  it("a missing unit fails verify, naming the record", async () => {
    const space = memorySpace();
    const ledger = new Ledger(storeOn(space));
    const digest = await ledger.storeUnit(unit(`sha256:${"c".repeat(64)}`));
    await ledger.append(entry({ unit: digest }));
    for (const key of space.objects.keys()) if (key.startsWith("u.")) space.objects.delete(key);
    await expect(ledger.verify()).rejects.toThrow(/its deployment object .* is missing or modified/);
  });

  it("imports a chain byte for byte, only where it continues the ledger", async () => {
    const source = new Ledger(storeOn());
    for (let i = 0; i < 3; i++) await source.append(entry());
    const { lines } = await source.read();
    const target = new Ledger(storeOn());
    await target.appendLines(lines!);
    expect((await target.read()).lines).toEqual(lines);
    expect(await target.verify()).toMatchObject({ records: 3, anchor: "ok" });
    await expect(target.appendLines(lines!)).rejects.toMatchObject({ code: "ERR_LEDGER_CHANGED" });
  });
});

describe("state on a target: the lock", () => {
  it("one holder at a time; a release frees it for the next; versions change with every write", async () => {
    const space = memorySpace();
    const a = storeOn(space);
    const b = storeOn(space);
    const v1 = await a.createLock("A");
    expect(v1).toBeDefined();
    expect(await b.createLock("B")).toBeUndefined();
    const read = await b.readLock();
    expect(read).toEqual({ text: "A", version: v1 });
    const v2 = await a.replaceLock("A2");
    expect(v2).not.toBe(v1);
    expect(await b.readLock()).toEqual({ text: "A2", version: v2 });
    // A removal with an old version is refused: the holder renewed since.
    expect(await b.removeLock(v1)).toBe(false);
    expect(await a.removeLock(v2)).toBe(true);
    expect(await b.readLock()).toBeUndefined();
    expect(await b.createLock("B")).toBeDefined();
    // Generations below the one held are removed.
    expect([...space.objects.keys()].filter((k) => /^[lbf]\.1/.test(k))).toEqual([]);
  });

  it("many takers at once: exactly one wins", async () => {
    const space = memorySpace();
    const stores = Array.from({ length: 8 }, () => storeOn(space));
    const versions = await Promise.all(stores.map((s, i) => s.createLock(`holder ${i}`)));
    expect(versions.filter((v) => v !== undefined)).toHaveLength(1);
  });

  it("a holder whose lock was taken over learns it on its next renewal", async () => {
    const space = memorySpace();
    const a = storeOn(space);
    const b = storeOn(space);
    const version = (await a.createLock("A"))!;
    expect(await b.removeLock(version)).toBe(true);
    expect(await b.createLock("B")).toBeDefined();
    await expect(a.replaceLock("A again")).rejects.toMatchObject({ code: "ERR_LOCK_LOST" });
    expect((await b.readLock())?.text).toBe("B");
  });

  it("acquireLock waits for a holder on another machine, then takes over once its lease ran out, saying so", async () => {
    const space = memorySpace();
    const dead: StateStore = storeOn(space);
    expect(await dead.createLock(elsewhere(1))).toBeDefined();
    const events: string[] = [];
    const began = performance.now();
    const lock = await acquireLock(storeOn(space, 1000), {
      what: "api@prod",
      command: "kaupang up api",
      timeoutMs: 10_000,
      pollMs: 50,
      events: (e) => {
        if ("message" in e) events.push(e.message);
      },
    });
    const waited = performance.now() - began;
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(waited).toBeLessThan(4000);
    expect(events[0]).toMatch(/^waiting for api@prod: locked by process 4242 on agent-elsewhere \(ci\)/);
    expect(events[1]).toMatch(
      /^taking over the lock of api@prod: process 4242 on agent-elsewhere .* has not renewed it for 1s \(its lease expired/,
    );
    expect(lock.tookOverFrom?.host).toBe("agent-elsewhere");
    await lock.release();
  });

  it("a live holder renews its lease, so a waiter never takes it over; it names the holder when it gives up", async () => {
    const space = memorySpace();
    const holder = await acquireLock(storeOn(space, 1000), {
      what: "api@prod",
      command: "kaupang up api",
      timeoutMs: 1000,
    });
    const state = await readLock(storeOn(space));
    expect(state).toMatchObject({ kind: "held", holder: { lease: 1 } });
    await expect(
      acquireLock(storeOn(space, 1000), { what: "api@prod", command: "x", timeoutMs: 2500, pollMs: 50 }),
    ).rejects.toThrow(/api@prod is being deployed by process \d+ on .* gave up waiting after 3s/);
    await holder.release();
    expect((await readLock(storeOn(space))).kind).toBe("none");
  });
});
