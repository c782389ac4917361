import { describe, expect, it } from "vitest";
import { GraphError, topoWaves } from "./dag.js";

const g = (o: Record<string, string[]>) => new Map(Object.entries(o));

describe("topoWaves", () => {
  it("groups independent nodes into sorted waves", () => {
    expect(topoWaves(g({ api: ["redis", "postgres"], postgres: [], redis: [] }))).toEqual([
      ["postgres", "redis"],
      ["api"],
    ]);
  });

  it("places a node after its deepest dependency", () => {
    expect(topoWaves(g({ a: [], b: ["a"], c: ["b"], d: ["a"] }))).toEqual([["a"], ["b", "d"], ["c"]]);
  });

  it("reports a cycle as the closing path", () => {
    try {
      topoWaves(g({ alpha: ["beta"], beta: ["gamma"], gamma: ["alpha"] }));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(GraphError);
      expect((error as GraphError).problem).toEqual({
        kind: "cycle",
        cycle: ["alpha", "beta", "gamma", "alpha"],
      });
    }
  });

  it("reports a self-loop", () => {
    expect(() => topoWaves(g({ a: ["a"] }))).toThrow("dependency cycle: a → a");
  });

  it("reports a missing dependency with who asked", () => {
    expect(() => topoWaves(g({ web: ["db"] }))).toThrow('"web" depends on unknown "db"');
  });

  it("handles long chains without blowing the stack", () => {
    const chain = Object.fromEntries(
      Array.from({ length: 2000 }, (_, i) => [`n${i}`, i === 0 ? [] : [`n${i - 1}`]]),
    );
    expect(topoWaves(g(chain))).toHaveLength(2000);
  });
});
