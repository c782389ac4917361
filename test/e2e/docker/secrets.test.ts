/**
 * Secrets count as change without being written (real engine): rotating a
 * secret() value redeploys it, diff and status name the secret, and neither
 * value appears in any file kaupang wrote or anything it printed — not even
 * when a hook echoes it to stderr and fails.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { project, sleeper } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";

type RunResult = Awaited<ReturnType<typeof kaupang>>;

const fresh = projectNames("sec");
const homes: string[] = [];
beforeAll(requireDocker);
afterAll(() => {
  for (const d of homes) rmSync(d, { recursive: true, force: true });
});

/** Every file under `dir`, with its content. */
function files(dir: string): { path: string; content: string }[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => join(dir, p))
    .filter((p) => statSync(p).isFile())
    .map((path) => ({ path, content: readFileSync(path, "utf8") }));
}

function expectNowhere(value: string, dirs: string[], outputs: RunResult[]): void {
  for (const dir of dirs) for (const f of files(dir)) expect(f.content, f.path).not.toContain(value);
  for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(value);
}

describe("secret values count as change, and are never written or printed", () => {
  for (const target of ["local", "swarm"]) {
    it(`${target}: rotating a value redeploys it; diff and status name the secret; the value is nowhere`, async () => {
      const name = fresh();
      const home = mkdtempSync(join(tmpdir(), "kaupang-sec-home-"));
      homes.push(home);
      const dir = project(name, {
        app: { services: { web: sleeper({ env: { API_KEY: { $secret: "KSEM_API_KEY" } } }) } },
      });
      const one = `one-${name}-value`;
      const two = `two-${name}-value`;
      const run = (args: string[], value: string) =>
        kaupang([...args, "--target", target, "--cwd", dir], {
          env: { KSEM_API_KEY: value, XDG_CONFIG_HOME: home },
        });
      const containerValue = () => {
        const filter =
          target === "swarm"
            ? `label=com.docker.swarm.service.name=${name}-app_web`
            : `label=com.docker.compose.project=${name}-app`;
        const id = sh(["docker", "ps", "-q", "--filter", filter]).out.split("\n")[0]!;
        return sh(["docker", "exec", id, "printenv", "API_KEY"]).out;
      };

      const outputs: RunResult[] = [];
      const first = await run(["up", "app", "--no-resolve"], one);
      outputs.push(first);
      expect(first.code, first.stderr).toBe(0);
      expect(containerValue()).toBe(one);
      const same = await run(["up", "app", "--no-resolve"], one);
      outputs.push(same);
      expect(same.stderr).toContain("unchanged: nothing to apply");

      const diff = await run(["diff", "app", "--no-resolve"], two);
      outputs.push(diff);
      expect(diff.stdout).toContain("~ secret KSEM_API_KEY changed");
      const status = await run(["status", "app"], two);
      outputs.push(status);
      expect(status.code).toBe(3);
      expect(status.stdout).toContain("secret KSEM_API_KEY changed since that deploy");

      const rotated = await run(["up", "app", "--no-resolve"], two);
      outputs.push(rotated);
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stderr).toContain("secret KSEM_API_KEY changed: applying");
      // Swarm replaces the task; wait for the new one.
      for (let i = 0; i < 40 && containerValue() !== two; i++) await new Promise((r) => setTimeout(r, 500));
      expect(containerValue()).toBe(two);
      const after = await run(["diff", "app", "--no-resolve"], two);
      outputs.push(after);
      expect(after.stdout).toContain("app (against");
      expect(after.stdout).toContain("no changes");

      expectNowhere(one, [dir, home], outputs);
      expectNowhere(two, [dir, home], outputs);
      const records = readFileSync(join(dir, ".kaupang/ledger", `app@${target}.jsonl`), "utf8");
      expect(records).toMatch(
        /"secrets":\{"key":"k-[0-9a-f]{16}","values":\{"KSEM_API_KEY":"hmac-sha256:[0-9a-f]{64}"\}\}/,
      );
    });
  }

  it("a hook that prints the secret to stderr and fails: the ledger, history and output hold ***", async () => {
    const name = fresh();
    const value = `leaky-${name}-value`;
    const dir = project(name, {
      app: {
        services: { web: sleeper({ env: { API_KEY: { $secret: "KSEM_LEAK" } } }) },
        hooks: { afterUp: ['echo "smoke test failed with token $KSEM_LEAK" >&2; exit 1'] },
      },
    });
    const env = { env: { KSEM_LEAK: value } };
    const up = await kaupang(["up", "app", "--no-resolve", "--cwd", dir], env);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("smoke test failed with token ***");
    const history = await kaupang(["history", "app", "--output", "json", "--cwd", dir], env);
    expect(JSON.parse(history.stdout)[0]).toMatchObject({
      status: "failed",
      failedStep: "hook",
      error: expect.stringContaining("— smoke test failed with token ***"),
    });
    const status = await kaupang(["status", "app", "--cwd", dir], env);
    expect(status.stdout).toContain("failed: app: afterUp hook failed (exit 1)");
    expect(readFileSync(join(dir, ".kaupang/ledger/app@local.jsonl"), "utf8")).toContain("token ***");
    expectNowhere(value, [dir], [up, history, status]);
  });
});
