import type { LedgerRecord } from "@kaupang/core";
import { describe, expect, it } from "vitest";
import { formatHistory } from "./history.js";

const record = (over: Partial<LedgerRecord>): LedgerRecord => ({
  v: 1,
  seq: 1,
  id: "20260611T140000Z-aaaa",
  at: "2026-06-11T14:00:00.123Z",
  by: { user: "u", host: "h" },
  kaupang: "0.1.0",
  project: "p",
  environment: "api",
  target: "local",
  backend: "compose",
  action: "up",
  status: "succeeded",
  images: [],
  prev: null,
  hash: "sha256:x",
  ...over,
});

describe("formatHistory", () => {
  it("aligns one row per record, newest last, with short digests and second-precision times", () => {
    const text = formatHistory([
      record({
        images: [
          { service: "web", ref: "web:1", digest: `sha256:${"a".repeat(64)}`, pinned: true },
          { service: "db", ref: "db", pinned: false },
        ],
      }),
      record({
        id: "20260612T090000Z-bbbb",
        at: "2026-06-12T09:00:00.000Z",
        action: "rollback",
        rollbackOf: "20260611T140000Z-aaaa",
        status: "failed",
        failedStep: "verify",
      }),
    ]);
    expect(text).toBe(
      [
        "  ID                     TIME                  ACTION                            STATUS           IMAGES",
        "  20260611T140000Z-aaaa  2026-06-11 14:00:00Z  up                                succeeded        web=aaaaaaaaaaaa db=-",
        "  20260612T090000Z-bbbb  2026-06-12 09:00:00Z  rollback → 20260611T140000Z-aaaa  failed (verify)  -",
        "",
      ].join("\n"),
    );
  });

  it("adds the environment column when listing several, and says when there is nothing", () => {
    const text = formatHistory([record({ source: "bundle hedeby@2.3.1" })], { showEnvironment: true });
    expect(text.split("\n")[0]).toMatch(/^ {2}ID +ENVIRONMENT +TIME/);
    expect(text).toContain("api");
    expect(text).toContain("up (bundle hedeby@2.3.1)");
    expect(formatHistory([])).toBe("No deployments recorded.\n");
  });

  it("shows each record's bundle: solution, manifest digest and signer", () => {
    const text = formatHistory([
      record({}),
      record({
        id: "20260612T090000Z-bbbb",
        source: "bundle shop@1.0.0",
        bundle: {
          solution: "shop@1.0.0",
          digest: `sha256:${"d".repeat(64)}`,
          signer: `sha256:${"5".repeat(64)}`,
        },
      }),
      record({
        id: "20260613T090000Z-cccc",
        bundle: { solution: "shop@2.0.0", digest: `sha256:${"e".repeat(64)}` },
      }),
    ]);
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/STATUS +BUNDLE +IMAGES$/);
    expect(lines[1]).toMatch(/succeeded +- +-$/);
    expect(lines[2]).toContain("shop@1.0.0 dddddddddddd signed 555555555555");
    expect(lines[3]).toContain("shop@2.0.0 eeeeeeeeeeee unsigned");
  });
});
