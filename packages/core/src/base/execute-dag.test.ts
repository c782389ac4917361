import { describe, expect, it } from "vitest";
import { parseDuration } from "../base/duration.js";
import { executeDag } from "./execute-dag.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fake actions: record start/end order and the peak of concurrently running tasks. */
function recorder(behaviour: Record<string, { ms?: number; fail?: boolean }> = {}) {
  const log: string[] = [];
  let active = 0;
  let peak = 0;
  const run = async (name: string) => {
    active++;
    peak = Math.max(peak, active);
    log.push(`start ${name}`);
    await sleep(behaviour[name]?.ms ?? 10);
    active--;
    log.push(`end ${name}`);
    if (behaviour[name]?.fail) throw new Error(`${name} broke`);
    return name.toUpperCase();
  };
  return { log, run, peak: () => peak };
}

describe("executeDag", () => {
  it("runs a task only after everything it needs succeeded", async () => {
    const r = recorder();
    const out = await executeDag(
      [
        { name: "build", needs: [] },
        { name: "deploy", needs: ["build"] },
        { name: "smoke", needs: ["deploy"] },
      ],
      r.run,
      { concurrency: 4 },
    );
    expect(r.log).toEqual([
      "start build",
      "end build",
      "start deploy",
      "end deploy",
      "start smoke",
      "end smoke",
    ]);
    expect([...out.values()].map((o) => o.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    expect(out.get("smoke")!.value).toBe("SMOKE");
  });

  it("runs independent tasks concurrently, up to the limit", async () => {
    const tasks = ["a", "b", "c", "d"].map((name) => ({ name, needs: [] }));
    const unlimited = recorder();
    await executeDag(tasks, unlimited.run, { concurrency: 4 });
    expect(unlimited.peak()).toBe(4);
    const limited = recorder();
    await executeDag(tasks, limited.run, { concurrency: 2 });
    expect(limited.peak()).toBe(2);
  });

  it("on failure starts nothing new, lets running siblings finish, and reports skipped and not-started tasks", async () => {
    const r = recorder({ fast: { ms: 5, fail: true }, slow: { ms: 60 } });
    const out = await executeDag(
      [
        { name: "fast", needs: [] },
        { name: "slow", needs: [] },
        { name: "later", needs: [] },
        { name: "after-fast", needs: ["fast"] },
        { name: "after-after", needs: ["after-fast"] },
        { name: "after-slow", needs: ["slow"] },
      ],
      r.run,
      { concurrency: 2 },
    );
    expect(Object.fromEntries([...out].map(([k, v]) => [k, v.status]))).toEqual({
      fast: "failed",
      slow: "succeeded",
      later: "not started",
      "after-fast": "skipped",
      "after-after": "skipped",
      "after-slow": "not started",
    });
    expect(r.log).toContain("end slow");
    expect((out.get("fast")!.error as Error).message).toBe("fast broke");
    expect(out.get("slow")!.endedAt!.getTime()).toBeGreaterThanOrEqual(out.get("slow")!.startedAt!.getTime());
  });

  it("stops starting tasks once aborted", async () => {
    const controller = new AbortController();
    const r = recorder({ first: { ms: 30 } });
    setTimeout(() => controller.abort(), 10);
    const out = await executeDag(
      [
        { name: "first", needs: [] },
        { name: "second", needs: ["first"] },
      ],
      r.run,
      { concurrency: 1, signal: controller.signal },
    );
    expect(out.get("first")!.status).toBe("succeeded");
    expect(out.get("second")!.status).toBe("not started");
  });
});

describe("pipeline durations", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["2m", 120_000],
    ["1h", 3_600_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
});
