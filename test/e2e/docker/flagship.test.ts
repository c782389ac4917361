import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupProject, kaupang, requireDocker, waitHttp } from "../support/kaupang.js";

// The flagship example, unchanged, from a copy (so .kaupang stays out of the repo).
const work = mkdtempSync(join(tmpdir(), "kaupang-flagship-"));
const dir = join(work, "longhall");
cpSync(fileURLToPath(new URL("../../../examples/longhall", import.meta.url)), dir, { recursive: true });
const env = { LONGHALL_JARL_KEY: "harald-bluetooth" };

beforeAll(() => {
  requireDocker();
  cleanupProject("longhall");
});
afterAll(() => {
  cleanupProject("longhall");
  rmSync(work, { recursive: true, force: true });
});

describe("flagship example: longhall", () => {
  it("builds and pushes the market image", async () => {
    const r = await kaupang(["build", "market", "--push", "--cwd", dir], { env });
    expect(r.code, r.stderr).toBe(0);
  });

  it.each([["local"], ["vanaheim-swarm"]])(
    "deploys market with saga and runes to %s, answers, and tears down",
    async (target) => {
      const up = await kaupang(["up", "market", "--target", target, "--cwd", dir], { env });
      expect(up.code, up.stderr).toBe(0);
      for (const e of ["runes", "saga", "market"]) expect(up.stderr).toContain(`${e}: deployed`);
      expect(await waitHttp("http://127.0.0.1:18090/")).toContain("The market of the longhall is open.");
      const down = await kaupang(["down", "market", "--with-deps", "--target", target, "--cwd", dir], {
        env,
      });
      expect(down.code, down.stderr).toBe(0);
    },
  );
});
