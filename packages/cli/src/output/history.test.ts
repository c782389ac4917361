import { deployments, type LedgerRecord } from "@kaupang/core";
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

describe("formatHistory: deploys that did not finish", () => {
  it("shows a deploy without an outcome as interrupted, the one holding the lock as running, and automatic rollbacks", () => {
    const records = [
      record({ id: "1", status: "started" }),
      record({ id: "1", status: "succeeded" }),
      record({ id: "2", status: "started" }),
      record({ id: "3", status: "started" }),
      record({ id: "3", status: "failed", failedStep: "verify" }),
      record({ id: "4", status: "started", action: "rollback", rollbackOf: "1", trigger: "3" }),
      record({ id: "4", status: "succeeded", action: "rollback", rollbackOf: "1", trigger: "3" }),
      record({ id: "5", status: "started" }),
    ];
    const rows = formatHistory(deployments(records, "5"))
      .trim()
      .split("\n")
      .slice(1)
      .map((r) => r.trim().split(/\s{2,}/));
    expect(rows.map((r) => [r[0], r[2], r[3]])).toEqual([
      ["1", "up", "succeeded"],
      ["2", "up", "interrupted (no outcome recorded)"],
      ["3", "up", "failed (verify)"],
      ["4", "rollback → 1 (after 3 failed)", "succeeded"],
      ["5", "up", "running"],
    ]);
  });
});

describe("the CHANGES column", () => {
  it("says what each deploy changed, so an env-only change reads as one", () => {
    const text = formatHistory(
      [
        record({ id: "20260611T140000Z-aaaa" }),
        record({ id: "20260611T150000Z-bbbb" }),
        record({ id: "20260611T160000Z-cccc", status: "unchanged" }),
        record({ id: "20260611T170000Z-dddd", action: "down" }),
      ],
      {
        changes: [
          [
            { service: "web", kind: "added", detail: "added (web:1)" },
            { service: "db", kind: "added", detail: "added (db)" },
          ],
          [
            { service: "web", kind: "env", key: "LOG_LEVEL", detail: 'env LOG_LEVEL: "info" → "debug"' },
            { service: "web", kind: "env", key: "TZ", detail: 'env TZ: (unset) → "UTC"' },
            { service: "web", kind: "command", detail: 'command [] → ["serve"]' },
            { service: "db", kind: "image", detail: "image db:1 → db:2" },
          ],
          [],
          undefined,
        ],
      },
    );
    expect(text.split("\n").map((l) => l.trimEnd())).toEqual([
      "  ID                     TIME                  ACTION  STATUS     IMAGES  CHANGES",
      "  20260611T140000Z-aaaa  2026-06-11 14:00:00Z  up      succeeded  -       +web; +db",
      "  20260611T150000Z-bbbb  2026-06-11 14:00:00Z  up      succeeded  -       web: env LOG_LEVEL, env TZ, command; db: image",
      "  20260611T160000Z-cccc  2026-06-11 14:00:00Z  up      unchanged  -       -",
      "  20260611T170000Z-dddd  2026-06-11 14:00:00Z  down    succeeded  -",
      "",
    ]);
  });
});
