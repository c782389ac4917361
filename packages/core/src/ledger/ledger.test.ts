import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { chooseRollbackTarget } from "../deploy/rollback.js";
import type { DeploymentUnit } from "../plan/unit.js";
import {
  appendBatchBytes,
  closeOpenDeployments,
  Ledger,
  ledgerAt,
  lineContentHash,
  type NewRecord,
  recordHash,
} from "./ledger.js";
import { currentRecord, deployments, type LedgerRecord, ledgerRecordSchema } from "./record.js";

const dirs: string[] = [];
afterEach(() =>
  dirs.splice(0).forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  }),
);
const cache = () => {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-ledger-"));
  dirs.push(dir);
  return dir;
};
/** The api@local ledger under a fresh cacheDir (paths in messages relative to `root`). */
const open = (dir = cache(), options: { root?: string; kaupangVersion?: string } = {}) =>
  ledgerAt(
    { cacheDir: dir, root: options.root, remote: undefined },
    { environment: "api", target: "local" },
    options,
  );
const fileOf = (ledger: Ledger, dir: string) => join(dir, ledger.location);
const pathOf = (dir: string) => join(dir, "ledger", "api@local.jsonl");
const objectsOf = (dir: string) => join(dir, "ledger", "objects");

const unit = (digest: string): DeploymentUnit => ({
  project: "p",
  target: { name: "local", backend: "compose", namespace: "p" },
  backend: "compose",
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
    artifact: { path: ".kaupang/local/api.compose.yaml", content: `image: r/web@${digest}\n` },
    views: {},
    hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] },
    commands: [],
  },
});

let n = 0;
async function add(
  ledger: Ledger,
  status: LedgerRecord["status"],
  digest = `sha256:${"a".repeat(64)}`,
  extra: Partial<NewRecord> = {},
) {
  n++;
  return ledger.append({
    id: `20260101T0000${String(n).padStart(2, "0")}Z-${String(n).padStart(4, "0")}`,
    at: new Date().toISOString(),
    project: "p",
    environment: "api",
    target: "local",
    backend: "compose",
    action: "up",
    status,
    images: [{ service: "web", ref: "r/web:1", digest, pinned: true }],
    unit: await ledger.storeUnit(unit(digest)),
    ...extra,
  });
}

describe("ledger", () => {
  it("chains records: each carries the previous hash and a sequence number", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir, kaupangVersion: "1.2.3" });
    const a = await add(ledger, "succeeded");
    const b = await add(ledger, "failed");
    expect(a.prev).toBeNull();
    expect(b.prev).toBe(a.hash);
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(b.kaupang).toBe("1.2.3");
    expect(b.by.host).toBeTruthy();
    expect(await ledger.verify()).toEqual({ records: 2, tornTail: false, anchor: "ok" });
    expect((await ledger.readUnit(a)).environment.images[0]!.digest).toBe(`sha256:${"a".repeat(64)}`);
    expect(fileOf(ledger, dir)).toBe(pathOf(dir));
  });

  it("appends imported lines in batches of bounded size, each with its own anchor (a head object has a size limit)", async () => {
    const fromDir = cache();
    const from = open(fromDir);
    const long = "x".repeat(20_000);
    for (let i = 0; i < 40; i++) await add(from, "failed", undefined, { error: long });
    const { lines } = await from.store.readRecords();
    const dir = cache();
    cpSync(objectsOf(fromDir), objectsOf(dir), { recursive: true });
    const local = open(dir);
    const appended: { records: number; bytes: number; anchor: string }[] = [];
    const counting = new Ledger({
      ...local.store,
      async append(records, anchor, torn) {
        appended.push({
          records: records.length,
          bytes: records.reduce((n, r) => n + Buffer.byteLength(r.line) + 1, 0),
          anchor: JSON.parse(anchor).count,
        });
        return local.store.append(records, anchor, torn);
      },
    });
    await counting.appendLines(lines);
    expect(appended.length).toBeGreaterThanOrEqual(4);
    expect(appended.reduce((n, a) => n + a.records, 0)).toBe(40);
    for (const a of appended) expect(a.bytes).toBeLessThanOrEqual(appendBatchBytes);
    // Each batch's anchor names the last record it wrote.
    expect(appended.map((a) => a.anchor)).toEqual(
      appended.map((_, i) => appended.slice(0, i + 1).reduce((n, a) => n + a.records, 0)),
    );
    expect(await local.verify()).toEqual({ records: 40, tornTail: false, anchor: "ok" });
  });

  it("hashes the written bytes of a line exactly as it hashed the record it appended", async () => {
    const dir = cache();
    const ledger = open(dir);
    const a = await add(ledger, "succeeded");
    const line = readFileSync(pathOf(dir), "utf8").split("\n")[0]!;
    expect(lineContentHash(line)).toBe(a.hash);
    expect(recordHash(a)).toBe(a.hash);
    expect(lineContentHash(line.replace('"succeeded"', '"succeeded" '))).not.toBe(a.hash);
    expect(lineContentHash('{"a":1}')).toBeUndefined();
  });

  it("records and reads back a bundle's provenance, in the chain's hash", async () => {
    const dir = cache();
    const ledger = open(dir);
    const bundle = {
      solution: "shop@1.0.0",
      digest: `sha256:${"d".repeat(64)}`,
      signer: `sha256:${"5".repeat(64)}`,
    };
    const a = await add(ledger, "succeeded", undefined, { source: "bundle shop@1.0.0", bundle });
    const [read] = (await ledger.read()).records;
    expect(read!.bundle).toEqual(bundle);
    expect(await ledger.verify()).toEqual({ records: 1, tornTail: false, anchor: "ok" });
    writeFileSync(
      pathOf(dir),
      readFileSync(pathOf(dir), "utf8").replace('shop@1.0.0","digest', 'shop@9.0.0","digest'),
    );
    await expect(ledger.verify()).rejects.toThrow(`record ${a.id}): content does not match its hash`);
  });

  it("stores identical deployment units once", async () => {
    const ledger = open();
    const a = await add(ledger, "succeeded");
    const b = await add(ledger, "succeeded");
    expect(a.unit).toBe(b.unit);
  });

  it("names the first modified record", async () => {
    const dir = cache();
    const ledger = open(dir);
    await add(ledger, "succeeded");
    const second = await add(ledger, "succeeded", `sha256:${"b".repeat(64)}`);
    await add(ledger, "succeeded");
    const text = readFileSync(pathOf(dir), "utf8");
    writeFileSync(
      pathOf(dir),
      text.replace(
        `"status":"succeeded","images":[{"service":"web","ref":"r/web:1","digest":"sha256:${"b".repeat(64)}"`,
        `"status":"succeeded","images":[{"service":"web","ref":"r/web:1","digest":"sha256:${"c".repeat(64)}"`,
      ),
    );
    await expect(ledger.verify()).rejects.toThrow(
      `line 2 (record ${second.id}): content does not match its hash: the record was modified`,
    );
  });

  it("detects a removed record", async () => {
    const dir = cache();
    const ledger = open(dir);
    await add(ledger, "succeeded");
    await add(ledger, "succeeded");
    const third = await add(ledger, "succeeded");
    const lines = readFileSync(pathOf(dir), "utf8").split("\n");
    writeFileSync(pathOf(dir), [lines[0], lines[2], ""].join("\n"));
    await expect(ledger.verify()).rejects.toThrow(
      `line 2 (record ${third.id}): does not link to the record before it`,
    );
  });

  it("detects a modified deployment object", async () => {
    const dir = cache();
    const ledger = open(dir);
    const a = await add(ledger, "succeeded");
    const file = join(objectsOf(dir), `${a.unit!.slice(7)}.json`);
    writeFileSync(file, readFileSync(file, "utf8").replace("r/web@", "evil/web@"));
    await expect(ledger.verify()).rejects.toThrow("its deployment object");
    await expect(ledger.readUnit(a)).rejects.toThrow("missing or modified");
  });

  it("reports a line that is not JSON with file and line, never as empty", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    await add(ledger, "succeeded");
    appendFileSync(pathOf(dir), "{oops\n");
    await expect(ledger.read()).rejects.toThrow("ledger/api@local.jsonl line 2: not valid JSON");
  });

  it("reports a record of the wrong shape with file, line and field", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    const a = await add(ledger, "succeeded");
    appendFileSync(pathOf(dir), `${JSON.stringify({ ...a, seq: 2, status: "maybe" })}\n`);
    await expect(ledger.read()).rejects.toThrow(/^ledger\/api@local\.jsonl line 2: status: Invalid option/);
    const otherDir = cache();
    const other = open(otherDir);
    const b = await add(other, "succeeded");
    appendFileSync(pathOf(otherDir), `${JSON.stringify({ ...b, seq: 2, images: "web" })}\n`);
    await expect(other.read()).rejects.toThrow(/line 2: images: Invalid input: expected array/);
  });

  it("checks a long history through the compiled schema: same records, same errors", async () => {
    const ledger = open();
    const good = await add(ledger, "succeeded");
    const [few, many] = [ledgerRecordSchema(1), ledgerRecordSchema(10_000)];
    expect(many).not.toBe(few);
    expect(many.parse(good)).toEqual(few.parse(good));
    for (const bad of [
      { ...good, status: "maybe" },
      { ...good, images: "web" },
      { ...good, by: {} },
    ]) {
      expect(many.safeParse(bad).error?.issues).toEqual(few.safeParse(bad).error?.issues);
      expect(many.safeParse(bad).success).toBe(false);
    }
  });

  it("ignores a line torn by a crash; the next append keeps it aside and says so in its record", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    const a = await add(ledger, "succeeded");
    const torn = '{"v":2,"seq":2,"id":"torn';
    appendFileSync(pathOf(dir), torn);
    expect(await ledger.verify()).toEqual({ records: 1, tornTail: true, anchor: "ok" });
    const b = await add(ledger, "succeeded");
    expect(b.prev).toBe(a.hash);
    expect(b.seq).toBe(2);
    expect(b.torn).toEqual({
      bytes: torn.length,
      sha256: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      savedAs: "ledger/torn/api@local.2.part",
    });
    expect(readFileSync(join(dir, b.torn!.savedAs), "utf8")).toBe(torn);
    expect(await ledger.verify()).toEqual({ records: 2, tornTail: false, anchor: "ok" });
  });

  it("appends after a large history by reading only its tail", async () => {
    const ledger = open();
    for (let i = 0; i < 300; i++) await add(ledger, "succeeded");
    const last = await add(ledger, "succeeded");
    expect(last.seq).toBe(301);
    expect((await ledger.verify()).records).toBe(301);
  });
});

describe("rollback target", () => {
  const rec = (id: string, status: LedgerRecord["status"], action: LedgerRecord["action"] = "up") =>
    ({ id, status, action, unit: action === "down" ? undefined : "sha256:x" }) as LedgerRecord;

  it("is the succeeded deployment before the current one", () => {
    expect(chooseRollbackTarget([rec("1", "succeeded"), rec("2", "succeeded")]).id).toBe("1");
  });

  it("after a rollback, rolls back the rollback", () => {
    const history = [rec("1", "succeeded"), rec("2", "succeeded"), rec("3", "succeeded", "rollback")];
    expect(chooseRollbackTarget(history).id).toBe("2");
  });

  it("after a failed deploy, returns to the last succeeded one and never to a failed one", () => {
    const history = [rec("1", "succeeded"), rec("2", "succeeded"), rec("3", "failed")];
    expect(chooseRollbackTarget(history).id).toBe("2");
    expect(() => chooseRollbackTarget(history, "3")).toThrow(
      "deployment 3 failed; only a succeeded deployment can be rolled back to",
    );
  });

  it("refuses when there is nothing earlier", () => {
    expect(() => chooseRollbackTarget([rec("1", "succeeded")])).toThrow(
      "there is no earlier succeeded deployment",
    );
    expect(() => chooseRollbackTarget([])).toThrow("no deployment is recorded");
    expect(() => chooseRollbackTarget([rec("1", "succeeded")], "9")).toThrow(
      "no deployment 9 in this ledger",
    );
  });
});

describe("head anchor: records cut from the end", () => {
  it("verify names the cut records; an append refuses instead of hiding the cut", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    for (let i = 0; i < 5; i++) await add(ledger, "succeeded");
    const lines = readFileSync(pathOf(dir), "utf8").split("\n");
    const fifth = JSON.parse(lines[4]!) as LedgerRecord;
    writeFileSync(pathOf(dir), `${lines.slice(0, 3).join("\n")}\n`);
    const message = `ledger/api@local.jsonl: records 4–5 are missing (the last of them ${fifth.id}): the ledger ends at record 3, but its head anchor (locks/api@local.head) says 5 records`;
    await expect(ledger.verify()).rejects.toThrow(message);
    await expect(add(ledger, "succeeded")).rejects.toThrow(message);
    expect(readFileSync(pathOf(dir), "utf8").split("\n")).toHaveLength(4); // nothing was appended
  });

  it("names a single cut record, and a ledger removed altogether", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    await add(ledger, "succeeded");
    const last = await add(ledger, "succeeded");
    const lines = readFileSync(pathOf(dir), "utf8").split("\n");
    writeFileSync(pathOf(dir), `${lines[0]}\n`);
    await expect(ledger.verify()).rejects.toThrow(`record 2 (${last.id}) is missing`);
    rmSync(pathOf(dir));
    await expect(ledger.verify()).rejects.toThrow("records 1–2 are missing");
  });

  it("detects records replaced by a different valid chain of the same length", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    await add(ledger, "succeeded");
    const anchor = readFileSync(join(dir, "locks/api@local.head"), "utf8");
    rmSync(pathOf(dir));
    rmSync(join(dir, "locks/api@local.head"));
    await add(ledger, "failed"); // a new chain, no anchor: accepted
    writeFileSync(join(dir, "locks/api@local.head"), anchor); // the old head comes back
    await expect(ledger.verify()).rejects.toThrow("record 1 is not the one its head anchor");
  });

  it("a ledger whose anchor lags (a crash between record and anchor) verifies", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    await add(ledger, "succeeded");
    const anchor = readFileSync(join(dir, "locks/api@local.head"), "utf8");
    await add(ledger, "succeeded");
    writeFileSync(join(dir, "locks/api@local.head"), anchor);
    expect(await ledger.verify()).toEqual({ records: 2, tornTail: false, anchor: "ok" });
    expect((await add(ledger, "succeeded")).seq).toBe(3);
  });

  it("an unreadable anchor is an error naming it", async () => {
    const dir = cache();
    const ledger = open(dir, { root: dir });
    await add(ledger, "succeeded");
    writeFileSync(join(dir, "locks/api@local.head"), "{");
    await expect(ledger.verify()).rejects.toThrow("locks/api@local.head: the head anchor of");
  });
});

describe("version 1 ledgers (written before started records and anchors)", () => {
  const fixture = fileURLToPath(new URL("./fixtures/v1", import.meta.url));
  const copy = () => {
    const dir = cache();
    cpSync(fixture, dir, { recursive: true });
    return dir;
  };

  it("read and verify as they are, with no anchor", async () => {
    const ledger = open(copy());
    const read = await ledger.read();
    expect(read.records.map((r) => [r.v, r.status])).toEqual([
      [1, "succeeded"],
      [1, "failed"],
      [1, "succeeded"],
      [1, "unchanged"],
      [1, "succeeded"],
    ]);
    expect(await ledger.verify()).toEqual({ records: 5, tornTail: false, anchor: "none" });
    expect(deployments(read.records)).toHaveLength(5);
  });

  it("roll back to the version before the current one, and keep chaining in version 2", async () => {
    const dir = copy();
    const ledger = open(dir);
    const { records } = await ledger.read();
    const current = currentRecord(records)!;
    expect(current.action).toBe("rollback");
    const target = chooseRollbackTarget(records);
    expect(target.seq).toBe(3);
    expect((await ledger.readUnit(target)).environment.images[0]!.ref).toBe("r/web:2");
    const next = await add(ledger, "started");
    expect(next).toMatchObject({ v: 2, seq: 6, prev: records[4]!.hash });
    expect(await ledger.verify()).toEqual({ records: 6, tornTail: false, anchor: "ok" });
  });
});

describe("started records and their outcomes", () => {
  const rec = (id: string, status: LedgerRecord["status"], action: LedgerRecord["action"] = "up") =>
    ({ id, status, action, unit: action === "down" ? undefined : `sha256:${id}` }) as LedgerRecord;

  it("one entry per deploy: the outcome replaces its started record", () => {
    const merged = deployments([
      rec("1", "started"),
      rec("1", "succeeded"),
      rec("2", "started"),
      rec("2", "failed"),
      rec("3", "unchanged"),
    ]);
    expect(merged.map((r) => [r.id, r.status])).toEqual([
      ["1", "succeeded"],
      ["2", "failed"],
      ["3", "unchanged"],
    ]);
  });

  it("a started record with no outcome is interrupted, unless it is the deploy running now", () => {
    const records = [rec("1", "started"), rec("1", "succeeded"), rec("2", "started")];
    expect(deployments(records).at(-1)).toMatchObject({
      id: "2",
      status: "interrupted",
      outcomeMissing: true,
    });
    expect(deployments(records, "2").at(-1)).toMatchObject({ id: "2", status: "started" });
  });

  it("never makes an unfinished or interrupted deploy current, nor a rollback target", () => {
    const records = [
      rec("1", "started"),
      rec("1", "succeeded"),
      rec("2", "started"),
      rec("2", "succeeded"),
      rec("3", "started"),
      rec("4", "started"),
      rec("4", "interrupted"),
    ];
    expect(currentRecord(records)!.id).toBe("2");
    expect(chooseRollbackTarget(records).id).toBe("2");
    expect(() => chooseRollbackTarget(records, "3")).toThrow("deployment 3 was interrupted");
    expect(chooseRollbackTarget([...records, rec("5", "started"), rec("5", "succeeded")]).id).toBe("2");
  });

  it("closes an open deploy with an interrupted record carrying its intent", async () => {
    const ledger = open();
    const started = await add(ledger, "started");
    const [closed] = await closeOpenDeployments(ledger, "no outcome was recorded: killed");
    expect(closed).toMatchObject({
      id: started.id,
      status: "interrupted",
      error: "no outcome was recorded: killed",
      unit: started.unit,
      images: started.images,
      seq: 2,
    });
    expect(await closeOpenDeployments(ledger, "again")).toEqual([]);
  });
});
