import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { chooseRollbackTarget } from "../deploy/rollback.js";
import type { DeploymentUnit } from "../plan/unit.js";
import { Ledger, lineContentHash, type NewRecord, recordHash } from "./ledger.js";
import { acquireLock } from "./lock.js";
import { type LedgerRecord, ledgerRecordSchema } from "./record.js";

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
    const ledger = new Ledger(cache(), "api", "local", { kaupangVersion: "1.2.3" });
    const a = await add(ledger, "succeeded");
    const b = await add(ledger, "failed");
    expect(a.prev).toBeNull();
    expect(b.prev).toBe(a.hash);
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(b.kaupang).toBe("1.2.3");
    expect(b.by.host).toBeTruthy();
    expect(ledger.verify()).toEqual({ records: 2, tornTail: false });
    expect(ledger.readUnit(a).environment.images[0]!.digest).toBe(`sha256:${"a".repeat(64)}`);
  });

  it("hashes the written bytes of a line exactly as it hashed the record it appended", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    const a = await add(ledger, "succeeded");
    const line = readFileSync(ledger.path, "utf8").split("\n")[0]!;
    expect(lineContentHash(line)).toBe(a.hash);
    expect(recordHash(a)).toBe(a.hash);
    expect(lineContentHash(line.replace('"succeeded"', '"succeeded" '))).not.toBe(a.hash);
    expect(lineContentHash('{"a":1}')).toBeUndefined();
  });

  it("stores identical deployment units once", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    const a = await add(ledger, "succeeded");
    const b = await add(ledger, "succeeded");
    expect(a.unit).toBe(b.unit);
  });

  it("names the first modified record", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    await add(ledger, "succeeded");
    const second = await add(ledger, "succeeded", `sha256:${"b".repeat(64)}`);
    await add(ledger, "succeeded");
    const text = readFileSync(ledger.path, "utf8");
    writeFileSync(
      ledger.path,
      text.replace(
        `"status":"succeeded","images":[{"service":"web","ref":"r/web:1","digest":"sha256:${"b".repeat(64)}"`,
        `"status":"succeeded","images":[{"service":"web","ref":"r/web:1","digest":"sha256:${"c".repeat(64)}"`,
      ),
    );
    expect(() => ledger.verify()).toThrow(
      `line 2 (record ${second.id}): content does not match its hash: the record was modified`,
    );
  });

  it("detects a removed record", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    await add(ledger, "succeeded");
    await add(ledger, "succeeded");
    const third = await add(ledger, "succeeded");
    const lines = readFileSync(ledger.path, "utf8").split("\n");
    writeFileSync(ledger.path, [lines[0], lines[2], ""].join("\n"));
    expect(() => ledger.verify()).toThrow(
      `line 2 (record ${third.id}): does not link to the record before it`,
    );
  });

  it("detects a modified deployment object", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    const a = await add(ledger, "succeeded");
    const file = join(ledger.objectsDir, `${a.unit!.slice(7)}.json`);
    writeFileSync(file, readFileSync(file, "utf8").replace("r/web@", "evil/web@"));
    expect(() => ledger.verify()).toThrow("its deployment object");
    expect(() => ledger.readUnit(a)).toThrow("missing or modified");
  });

  it("reports a line that is not JSON with file and line, never as empty", async () => {
    const dir = cache();
    const ledger = new Ledger(dir, "api", "local", { root: dir });
    await add(ledger, "succeeded");
    appendFileSync(ledger.path, "{oops\n");
    expect(() => ledger.read()).toThrow("ledger/api@local.jsonl line 2: not valid JSON");
  });

  it("reports a record of the wrong shape with file, line and field", async () => {
    const dir = cache();
    const ledger = new Ledger(dir, "api", "local", { root: dir });
    const a = await add(ledger, "succeeded");
    appendFileSync(ledger.path, `${JSON.stringify({ ...a, seq: 2, status: "maybe" })}\n`);
    expect(() => ledger.read()).toThrow(/^ledger\/api@local\.jsonl line 2: status: Invalid option/);
    const other = new Ledger(cache(), "api", "local");
    const b = await add(other, "succeeded");
    appendFileSync(other.path, `${JSON.stringify({ ...b, seq: 2, images: "web" })}\n`);
    expect(() => other.read()).toThrow(/line 2: images: Invalid input: expected array/);
  });

  it("checks a long history through the compiled schema: same records, same errors", async () => {
    const ledger = new Ledger(cache(), "api", "local");
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

  it("ignores a line torn by a crash, and the next append cuts it off", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    const a = await add(ledger, "succeeded");
    appendFileSync(ledger.path, '{"v":1,"seq":2,"id":"torn');
    expect(ledger.verify()).toEqual({ records: 1, tornTail: true });
    const b = await add(ledger, "succeeded");
    expect(b.prev).toBe(a.hash);
    expect(b.seq).toBe(2);
    expect(ledger.verify()).toEqual({ records: 2, tornTail: false });
  });

  it("appends after a large history by reading only its tail", async () => {
    const ledger = new Ledger(cache(), "api", "local");
    for (let i = 0; i < 300; i++) await add(ledger, "succeeded");
    const last = await add(ledger, "succeeded");
    expect(last.seq).toBe(301);
    expect(ledger.verify().records).toBe(301);
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

describe("lock", () => {
  it("makes a second holder wait, then fail naming the first", async () => {
    const path = join(cache(), "locks", "api@local.lock");
    const first = await acquireLock(path, { what: "api@local", timeoutMs: 1000, command: "kaupang up api" });
    await expect(
      acquireLock(path, { what: "api@local", timeoutMs: 300, command: "x", pollMs: 50 }),
    ).rejects.toThrow(
      new RegExp(
        `api@local is being deployed by process ${process.pid} on .+ \\(kaupang up api\\) since .+; gave up waiting after 0s`,
      ),
    );
    first.release();
    const second = await acquireLock(path, { what: "api@local", timeoutMs: 300, command: "x" });
    second.release();
  });

  it("takes over a lock left by a dead process on this host", async () => {
    const path = join(cache(), "api@local.lock");
    const { hostname } = await import("node:os");
    writeFileSync(
      path,
      JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: "then", command: "gone" }),
    );
    const lock = await acquireLock(path, { what: "api@local", timeoutMs: 1000, command: "x" });
    expect(JSON.parse(readFileSync(path, "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("never leaves a half-written lock: a garbage lock file is reported, not spun on", async () => {
    const path = join(cache(), "api@local.lock");
    writeFileSync(path, "{");
    const events: string[] = [];
    await expect(
      acquireLock(path, {
        what: "api@local",
        timeoutMs: 200,
        command: "x",
        pollMs: 50,
        events: (event) => events.push("message" in event ? event.message : event.type),
      }),
    ).rejects.toThrow("api@local is being deployed by another process (the lock file is unreadable)");
    expect(events).toEqual([`waiting for api@local: locked (unreadable lock file ${path})`]);
    expect(readFileSync(path, "utf8")).toBe("{");
  });
});
