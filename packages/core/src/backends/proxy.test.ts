import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import type { EnvironmentPlan } from "../plan/types.js";
import type { Backend, BackendContext } from "./backend.js";
import { kernelAtLeast, tarOf, withRoutes } from "./proxy.js";

describe("the proxy's bootstrap tar", () => {
  it("is a tar that tar lists and extracts, with the file's directories", () => {
    const dir = testdir({});
    const file = join(dir, "boot.tar");
    const content = `${JSON.stringify({ admin: { listen: "0.0.0.0:2019" } })}\n`;
    writeFileSync(file, tarOf("etc/kaupang/caddy.json", content), "latin1");
    const list = spawnSync("tar", ["-tvf", file], { encoding: "utf8" });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^drwxr-xr-x root\/root\s+0 .* etc\/$/m);
    expect(list.stdout).toMatch(/^-rw-r--r-- root\/root\s+\d+ .* etc\/kaupang\/caddy\.json$/m);
    const out = spawnSync("tar", ["-xOf", file, "etc/kaupang/caddy.json"], { encoding: "utf8" });
    expect(out.stdout).toBe(content);
  });
});

describe("the engine's kernel, for the proxy's listener setting (Linux 5.14+)", () => {
  it("compares major and minor, whatever follows", () => {
    expect(kernelAtLeast("6.18.44-fc-v669", 5, 14)).toBe(true);
    expect(kernelAtLeast("5.14.0-362.el9.x86_64", 5, 14)).toBe(true);
    expect(kernelAtLeast("5.10.0-28-amd64", 5, 14)).toBe(false);
    expect(kernelAtLeast("4.19.0", 5, 14)).toBe(false);
  });

  it("is not met by a version it cannot read", () => {
    expect(kernelAtLeast("", 5, 14)).toBe(false);
    expect(kernelAtLeast("linuxkit", 5, 14)).toBe(false);
  });
});

describe("a backend with routes", () => {
  it("changes one proxy from one routed environment at a time, and keeps the base backend's other steps", async () => {
    const events: string[] = [];
    const base: Backend = {
      apply: async () => {},
      remove: async () => {},
      running: async () => [],
      secretValues: async () => ({ A: "1" }),
    };
    const routed = withRoutes(base, async (_ctx, env) => {
      events.push(`start ${env.environment}`);
      await new Promise((r) => setTimeout(r, 20));
      events.push(`end ${env.environment}`);
      if (env.environment === "b") throw new Error("b failed");
    });
    const ctx = {
      project: "shop",
      target: { name: "local", backend: "compose", namespace: "shop" },
    } as unknown as BackendContext;
    const env = (name: string) =>
      ({ environment: name, routes: [{ service: "web" }] }) as unknown as EnvironmentPlan;
    const results = await Promise.allSettled(["a", "b", "c"].map((n) => routed.apply(ctx, env(n))));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(events).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(await routed.secretValues?.(ctx, ["A"])).toEqual({ A: "1" });
  });
});
