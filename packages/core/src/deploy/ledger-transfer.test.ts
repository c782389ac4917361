/**
 * ledger export / import between two working copies (two agents), against the
 * in-memory Backend: the chain and the units arrive intact, the receiving copy
 * rolls back with them, and an import never merges two histories.
 */
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { isKaupangError } from "../base/errors.js";
import { ledgerAt } from "../ledger/ledger.js";
import { exportLedger, importLedger } from "./ledger-transfer.js";
import { rollback } from "./rollback.js";
import { fakeBackend } from "./testing/fake-backend.js";
import { digest, hall, records } from "./testing/fixtures.js";
import { up } from "./up.js";

const webAt = (cwd: string, c: string) =>
  writeFileSync(
    join(cwd, "environments/market.json"),
    json({ dependsOn: "saga", services: { web: `r/web@${digest(c)}` } }),
  );

/** A second working copy of `cwd`'s project, without its .kaupang. */
const copyOf = (cwd: string) => {
  const copy = testdir({});
  cpSync(cwd, copy, { recursive: true, filter: (src) => !src.includes(".kaupang") });
  return copy;
};

const ledgerOf = (cwd: string) =>
  ledgerAt(
    { cacheDir: join(cwd, ".kaupang"), root: cwd, remote: undefined },
    {
      environment: "market",
      target: "local",
    },
  );

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    if (isKaupangError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
};

describe("ledger export / import", () => {
  it("moves a history byte for byte with its units: the other copy verifies it and rolls back with it", async () => {
    const a = hall();
    const backend = fakeBackend();
    await up({ cwd: a, environments: ["market"], backendImpl: backend }); // web b
    webAt(a, "c");
    await up({ cwd: a, environments: ["market"], backendImpl: backend }); // web c
    const file = join(testdir({}), "market.json");
    const { export: exported, from } = await exportLedger({ cwd: a, environment: "market", out: file });
    expect(from).toBe("local files (.kaupang/ledger/market@local.jsonl)");
    expect(exported.records).toHaveLength(4); // started + outcome, twice
    expect(Object.keys(exported.units)).toHaveLength(2);

    const b = copyOf(a);
    const result = await importLedger({ cwd: b, file });
    expect(result).toEqual({
      environment: "market",
      target: "local",
      to: "local files (.kaupang/ledger/market@local.jsonl)",
      imported: 4,
      present: 0,
    });
    expect(readFileSync(join(b, ".kaupang/ledger/market@local.jsonl"), "utf8")).toBe(
      readFileSync(join(a, ".kaupang/ledger/market@local.jsonl"), "utf8"),
    );
    await ledgerOf(b).verify(undefined, { deep: true });

    // The imported units are B's: it rolls back to A's first deploy.
    await rollback({ cwd: b, environment: "market", backendImpl: backend });
    expect(backend.applied.at(-1)!.images[0]!.digest).toBe(digest("b"));
    expect((await records(b, "market")).map((r) => [r.action, r.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
      ["rollback", "succeeded"],
    ]);

    // Importing the same file again adds nothing (B's rollback stays the last record).
    const again = await importLedger({ cwd: b, file });
    expect([again.imported, again.present]).toEqual([0, 4]);
    expect((await records(b, "market")).at(-1)!.action).toBe("rollback");
  });

  it("takes the rest of a history the destination has the start of; refuses one that diverged", async () => {
    const a = hall();
    const backend = fakeBackend();
    await up({ cwd: a, environments: ["market"], backendImpl: backend });
    const early = join(testdir({}), "early.json");
    await exportLedger({ cwd: a, environment: "market", out: early });
    webAt(a, "c");
    await up({ cwd: a, environments: ["market"], backendImpl: backend });
    const late = join(testdir({}), "late.json");
    await exportLedger({ cwd: a, environment: "market", out: late });

    const b = copyOf(a);
    await importLedger({ cwd: b, file: early });
    const rest = await importLedger({ cwd: b, file: late });
    expect([rest.imported, rest.present]).toEqual([2, 2]);
    await ledgerOf(b).verify(undefined, { deep: true });

    // C deployed on its own first: its history and A's differ from record 1.
    const c = copyOf(a);
    webAt(c, "d");
    await up({ cwd: c, environments: ["market"], backendImpl: backend });
    const before = readFileSync(join(c, ".kaupang/ledger/market@local.jsonl"), "utf8");
    expect(await codeOf(importLedger({ cwd: c, file: late }))).toBe(
      `ERR_LEDGER_DIVERGED: local files (.kaupang/ledger/market@local.jsonl) has record 1 that ${late} does not (their histories differ from there); nothing was imported`,
    );
    expect(readFileSync(join(c, ".kaupang/ledger/market@local.jsonl"), "utf8")).toBe(before);
    // B has more than the early export: importing it is no error, and changes nothing.
    const older = await importLedger({ cwd: b, file: early });
    expect(older.imported).toBe(0);
  });

  it("refuses an export whose records or units were changed, naming the file; writes nothing", async () => {
    const a = hall();
    await up({ cwd: a, environments: ["market"], backendImpl: fakeBackend() });
    const file = join(testdir({}), "market.json");
    await exportLedger({ cwd: a, environment: "market", out: file });
    const exported = JSON.parse(readFileSync(file, "utf8"));

    const edited = join(testdir({}), "edited.json");
    const records = [...exported.records];
    records[1] = records[1].replace('"succeeded"', '"failed"');
    writeFileSync(edited, JSON.stringify({ ...exported, records }));
    const b = copyOf(a);
    expect(await codeOf(importLedger({ cwd: b, file: edited }))).toMatch(
      new RegExp(`^ERR_LEDGER_\\w+: ${edited}.*record 2`),
    );

    const unitChanged = join(testdir({}), "unit.json");
    const [digestOf] = Object.keys(exported.units);
    writeFileSync(
      unitChanged,
      JSON.stringify({
        ...exported,
        units: { [digestOf!]: exported.units[digestOf!].replace("hall", "hal") },
      }),
    );
    expect(await codeOf(importLedger({ cwd: b, file: unitChanged }))).toMatch(/^ERR_LEDGER_\w+: .*unit/);

    writeFileSync(join(b, "not-an-export.json"), json({ kind: "something" }));
    expect(await codeOf(importLedger({ cwd: b, file: join(b, "not-an-export.json") }))).toBe(
      `ERR_LEDGER_IMPORT: ${join(b, "not-an-export.json")}: not a ledger export (kind: Invalid input: expected "kaupang.ledger")`,
    );
    expect(await codeOf(importLedger({ cwd: b, file: join(b, "missing.json") }))).toBe(
      `ERR_LEDGER_IMPORT: cannot read ${join(b, "missing.json")}: ENOENT`,
    );
    expect((await ledgerOf(b).read()).records).toEqual([]);
  });

  it("says there is nothing to export for an environment without records", async () => {
    const a = hall();
    expect(await codeOf(exportLedger({ cwd: a, environment: "market", out: join(a, "x.json") }))).toBe(
      "ERR_NOTHING_TO_EXPORT: no records of market@local in local files (.kaupang/ledger/market@local.jsonl)",
    );
  });

  it("refuses a target with hosts by name: it has a history per host", async () => {
    const a = hall({}, { targets: { fleet: { hosts: ["ssh://deploy@10.0.0.1", "ssh://deploy@10.0.0.2"] } } });
    const message =
      "target fleet has hosts (ssh://deploy@10.0.0.1, ssh://deploy@10.0.0.2), each with a history of its own";
    expect(
      await codeOf(exportLedger({ cwd: a, environment: "market", target: "fleet", out: join(a, "x.json") })),
    ).toBe(
      `ERR_LEDGER_HOSTS: ledger export: ${message}; ledger export moves the history of a target without hosts`,
    );
    // A valid export of the target without hosts, imported into the one with hosts.
    await up({ cwd: a, environments: ["market"], backendImpl: fakeBackend() });
    await exportLedger({ cwd: a, environment: "market", out: join(a, "x.json") });
    expect(await codeOf(importLedger({ cwd: a, target: "fleet", file: join(a, "x.json") }))).toBe(
      `ERR_LEDGER_HOSTS: ledger import: ${message}; ledger import moves the history of a target without hosts`,
    );
  });
});
