import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { project } from "../support/fixture.js";
import { cleanupProject, freePort, kaupang, requireDocker, uniqueProject } from "../support/kaupang.js";

const names: string[] = [];
const work = mkdtempSync(join(tmpdir(), "kaupang-pipeline-"));
beforeAll(() => {
  requireDocker();
  cleanupProject("longhall");
});
afterAll(() => {
  cleanupProject("longhall");
  names.forEach(cleanupProject);
  rmSync(work, { recursive: true, force: true });
});

const steps = (pipelines: Record<string, unknown>) => {
  const name = uniqueProject("pip");
  names.push(name);
  return project(name, {}, { pipelines }, { "environments/.keep": "" });
};

describe("pipelines (real engine)", () => {
  it("runs the flagship voyage: build, deploy, wait on health, smoke; the deploy is a recorded deployment", async () => {
    const dir = join(work, "longhall");
    cpSync(fileURLToPath(new URL("../../../examples/longhall", import.meta.url)), dir, { recursive: true });
    const env = { LONGHALL_JARL_KEY: "k" };
    const run = await kaupang(["run", "voyage", "--output", "json", "--cwd", dir], { env });
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("succeeded");
    expect(result.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`)).toEqual([
      "build:succeeded",
      "deploy:succeeded",
      "health:succeeded",
      "smoke:succeeded",
    ]);
    const deployed = result.steps.find((s: { step: string }) => s.step === "deploy").deployments;
    expect(deployed.map((d: { environment: string }) => d.environment)).toEqual(["runes", "saga", "market"]);
    const id = deployed[2].deploymentId;
    expect(id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(run.stderr).toMatch(/deploy\/market │ /);
    const list = await kaupang(["rollback", "market", "--list", "--cwd", dir]);
    expect(list.stdout).toContain(id);
    expect((await kaupang(["down", "market", "--with-deps", "--cwd", dir], { env })).code).toBe(0);
  });

  it("fails a wait that times out with the URL and the last answer", async () => {
    const url = `http://127.0.0.1:${await freePort()}/health`;
    const dir = steps({
      gate: { steps: { health: { wait: { http: url, interval: "200ms", timeout: "1s" } } } },
    });
    const run = await kaupang(["run", "gate", "--cwd", dir]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`wait: ${url} did not answer 200 within 1s (last: ECONNREFUSED)`);
  });

  it("runs independent steps at the same time and their dependent after both", async () => {
    const dir = steps({
      par: {
        steps: {
          left: { run: "sleep 1; echo left done" },
          right: { run: "sleep 1; echo right done" },
          join: { run: "echo joined", needs: ["left", "right"] },
        },
      },
    });
    const run = await kaupang(["run", "par", "--output", "json", "--cwd", dir]);
    expect(run.code, run.stderr).toBe(0);
    const s = Object.fromEntries(JSON.parse(run.stdout).steps.map((x: { step: string }) => [x.step, x]));
    const t = (step: string, at: "startedAt" | "endedAt") => Date.parse(s[step][at]);
    expect(t("left", "startedAt")).toBeLessThan(t("right", "endedAt"));
    expect(t("right", "startedAt")).toBeLessThan(t("left", "endedAt"));
    expect(t("join", "startedAt")).toBeGreaterThanOrEqual(
      Math.max(t("left", "endedAt"), t("right", "endedAt")),
    );
    expect(run.stderr).toMatch(/ {2}left │ left done\n/);
    expect(JSON.parse(run.stdout).concurrency).toBe(2);
    const serial = await kaupang(["run", "par", "--concurrency", "1", "--output", "json", "--cwd", dir]);
    const s1 = Object.fromEntries(JSON.parse(serial.stdout).steps.map((x: { step: string }) => [x.step, x]));
    expect(Date.parse(s1.right.startedAt)).toBeGreaterThanOrEqual(Date.parse(s1.left.endedAt));
  });

  it("on a failing step lets siblings finish, skips dependents, and exits non-zero", async () => {
    const dir = steps({
      ff: {
        steps: {
          broken: { run: "echo about to fail >&2; exit 4" },
          sibling: { run: "sleep 1; echo sibling finished" },
          after: { run: "echo never", needs: "broken" },
        },
      },
    });
    const run = await kaupang(["run", "ff", "--output", "json", "--cwd", dir]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe("failed");
    expect(result.steps.map((s: { status: string }) => s.status)).toEqual(["failed", "succeeded", "skipped"]);
    expect(result.steps[0].error).toBe("run step broken exited with code 4: about to fail");
  });

  it("Ctrl-C stops running commands and records nothing as succeeded that did not finish", async () => {
    const marker = join(work, `finished-${Date.now()}`);
    const dir = steps({
      long: {
        steps: { slow: { run: `sleep 20 && touch ${marker}` }, next: { run: "echo next", needs: "slow" } },
      },
    });
    const bin = fileURLToPath(new URL("../../../packages/cli/bin/kaupang.mjs", import.meta.url));
    const child = spawn(process.execPath, [bin, "run", "long", "--output", "json", "--cwd", dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    await new Promise<void>((resolve) =>
      child.stderr.on("data", (d) => String(d).includes("slow: run") && resolve()),
    );
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(130);
    const result = JSON.parse(stdout);
    expect(result.status).toBe("interrupted");
    expect(result.steps.map((s: { status: string }) => s.status)).toEqual(["failed", "skipped"]);
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
  });
});
