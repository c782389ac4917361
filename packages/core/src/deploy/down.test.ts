/** down through its plan, against an in-memory Backend: removal order and what it records. */
import { describe, expect, it } from "vitest";
import { down, planDown } from "./down.js";
import { fakeBackend } from "./testing/fake-backend.js";
import { hall, records } from "./testing/fixtures.js";
import { up } from "./up.js";

describe("down", () => {
  it("removes only the named environment, or with --with-deps its dependencies after it", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    await up({ cwd, environments: ["market"], backendImpl: backend });

    expect((await planDown({ cwd, environment: "market", withDeps: true })).order).toEqual([
      "market",
      "saga",
    ]);
    expect(await down({ cwd, environment: "market", withDeps: true, backendImpl: backend })).toEqual({
      removed: ["market", "saga"],
    });
    expect(backend.calls.slice(2)).toEqual(["remove market", "remove saga"]);
    for (const env of ["market", "saga"]) {
      expect((await records(cwd, env)).map((r) => [r.action, r.status])).toEqual([
        ["up", "succeeded"],
        ["down", "succeeded"],
      ]);
    }

    await up({ cwd, environments: ["market"], backendImpl: backend });
    await down({ cwd, environment: "market", backendImpl: backend });
    expect(backend.calls.at(-1)).toBe("remove market");
    expect((await records(cwd, "saga")).at(-1)!.action).toBe("up");
  });

  it("shows removing the project network in its plan", async () => {
    const { commands } = await planDown({ cwd: hall(), environment: "market" });
    expect(commands.market!.map((c) => c.argv.slice(1).join(" "))).toEqual([
      expect.stringMatching(/^compose -p hall-market .* down --remove-orphans$/),
      "network rm hall",
    ]);
  });
});
