import { describe, expect, it } from "vitest";
import type { LedgerRecord } from "../ledger/record.js";
import { chooseRollbackTarget } from "./rollback.js";
import { type RollbackBounds, restorePoint } from "./rollback-bounds.js";

let seq = 0;
function record(id: string, extra: Partial<LedgerRecord> = {}): LedgerRecord {
  seq += 1;
  return {
    v: 1,
    seq,
    id,
    at: "2026-01-01T00:00:00.000Z",
    by: { user: "u", host: "h" },
    kaupang: "0.0.0",
    project: "p",
    environment: "app",
    target: "site",
    backend: "compose",
    action: "up",
    status: "succeeded",
    images: [],
    unit: `sha256:${id}`,
    prev: null,
    hash: "h",
    ...extra,
  };
}

const carried = (solution: string, signer?: string) => ({
  bundle: { solution, digest: `sha256:${"a".repeat(64)}`, ...(signer ? { signer } : {}) },
});
const bundlesOnly: RollbackBounds = { allows: (r) => r.bundle !== undefined, refusal: "was not carried in" };
const signedBy = (key: string): RollbackBounds => ({
  allows: (r) => r.bundle?.signer === key,
  refusal: "was not signed",
});

describe("rollback bounds", () => {
  const history = [
    record("src1"),
    record("b1", carried("shop@1.0.0", "k")),
    record("src2"),
    record("b2", carried("shop@2.0.0")),
    record("b3", carried("shop@3.0.0", "k")),
  ];

  it("without bounds returns to the deploy before the current one", () => {
    expect(chooseRollbackTarget(history).id).toBe("b2");
  });

  it("on a bundle site skips what no bundle carried in", () => {
    expect(chooseRollbackTarget(history.slice(0, 3), undefined, bundlesOnly).id).toBe("b1");
    expect(chooseRollbackTarget(history, undefined, bundlesOnly).id).toBe("b2");
  });

  it("with a required key, only what that key signed", () => {
    expect(chooseRollbackTarget(history, undefined, signedBy("k")).id).toBe("b1");
    expect(() => chooseRollbackTarget(history, "b2", signedBy("k"))).toThrow(
      "deployment b2 was not signed; refused",
    );
    expect(() => chooseRollbackTarget(history, "src2", bundlesOnly)).toThrow(
      "deployment src2 was not carried in; refused",
    );
  });

  it("after a failed deploy returns to the last allowed good one", () => {
    const failed = [...history, record("b4", { ...carried("shop@4.0.0", "k"), status: "failed" })];
    expect(chooseRollbackTarget(failed, undefined, signedBy("k")).id).toBe("b3");
  });

  it("says why when nothing is within bounds", () => {
    expect(() => chooseRollbackTarget([record("s1"), record("s2")], undefined, bundlesOnly)).toThrow(
      "nothing to roll back to: no earlier succeeded deployment is within this site's bounds (every one was not carried in)",
    );
  });
});

describe("what a rollback on failure restores", () => {
  it("without bounds: what ran before the deploy (succeeded or unchanged), nothing after a down", () => {
    expect(restorePoint([record("a"), record("b", { status: "unchanged" })]).record?.id).toBe("b");
    expect(restorePoint([record("a"), record("b", { status: "failed" })]).record?.id).toBe("a");
    expect(restorePoint([record("a"), record("d", { action: "down" })])).toEqual({});
  });

  it("on a bundle site: the latest carried-in deploy, naming the one passed over", () => {
    const got = restorePoint(
      [record("b1", carried("shop@1.0.0")), record("src1"), record("x", { status: "failed" })],
      bundlesOnly,
    );
    expect(got.record?.id).toBe("b1");
    expect(got.refused?.id).toBe("src1");
  });

  it("with a required key: only what that key signed; none is an answer with the refused one", () => {
    const records = [record("b1", carried("shop@1.0.0", "k")), record("b2", carried("shop@2.0.0", "other"))];
    expect(restorePoint(records, signedBy("k"))).toMatchObject({
      record: { id: "b1" },
      refused: { id: "b2" },
    });
    expect(restorePoint(records.slice(1), signedBy("k"))).toEqual({ refused: records[1] });
    // A down ends what ran: nothing before it is restored.
    expect(restorePoint([records[0]!, record("d", { action: "down" }), record("s")], bundlesOnly)).toEqual({
      refused: expect.objectContaining({ id: "s" }),
    });
  });
});
