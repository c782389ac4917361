/**
 * A deploy finishes or says so, on the real engine: kill -9 at random points
 * of `up` (compose and swarm), Ctrl-C and SIGTERM. A hook logs the start and
 * end of every apply, under the lock, tagged with the deployment id, so the
 * log proves no two applies ever overlapped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, waitHttp } from "../support/kaupang.js";

const fresh = projectNames("int");
const bin = fileURLToPath(new URL("../../../packages/cli/bin/kaupang.mjs", import.meta.url));
beforeAll(requireDocker);

/** An environment whose apply is bracketed by hooks writing `start/mid/end <id>` lines to `log`. */
function bracketed(port: number, log: string, trial: number) {
  return {
    services: { web: httpService(port, { env: { TRIAL: String(trial) } }) },
    hooks: {
      // The sleep leaves a window in which a kill leaves the hook's shell running (its own process group).
      beforeUp: [
        `echo "start $KAUPANG_DEPLOYMENT_ID" >> ${log}; sleep 1; echo "mid $KAUPANG_DEPLOYMENT_ID" >> ${log}`,
      ],
      afterUp: [`echo "end $KAUPANG_DEPLOYMENT_ID" >> ${log}`],
    },
  };
}

/** Start `kaupang up` as its own process group leader (as a shell job is). */
function startUp(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<number | null>;
} {
  const child = spawn(process.execPath, [bin, "up", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<number | null>((resolve) =>
    child.on("close", (code, signal) => resolve(signal ? null : code)),
  );
  return { child, stderr: () => stderr, done };
}

/** The hook log as [kind, id] pairs. */
const logLines = (log: string) =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ") as [string, string])
    : [];

/** No apply overlapped another: each id's lines form one block, and no block starts while another is unfinished. */
function assertNoOverlap(lines: [string, string][]): void {
  const finished = new Set<string>();
  let current: string | undefined;
  for (const [kind, id] of lines) {
    if (id !== current) {
      expect(
        finished.has(id),
        `lines of ${id} appear again after another deploy's: ${JSON.stringify(lines)}`,
      ).toBe(false);
      if (current) finished.add(current);
      current = id;
      expect(kind, `${id} begins with ${kind}, not start`).toBe("start");
    }
  }
}

interface Trial {
  killedAfterMs: number;
  id?: string;
  tookOver: boolean;
  /** The takeover ended processes the killed run left running (its hook, compose). */
  endedLeftovers: boolean;
}

async function killTrials(options: { target: string; trials: number; maxKillMs: number }) {
  const name = fresh();
  const port = await freePort();
  const dir = project(name, { app: { services: {} } });
  const log = join(dir, "applies.log");
  const results: Trial[] = [];
  for (let i = 0; i < options.trials; i++) {
    writeFileSync(join(dir, "environments/app.json"), json(bracketed(port, log, i)));
    const run = startUp(["app", "--target", options.target, "--no-resolve", "--cwd", dir]);
    const killedAfterMs = Math.floor(Math.random() * options.maxKillMs);
    await new Promise((resolve) => setTimeout(resolve, killedAfterMs));
    run.child.kill("SIGKILL");
    await run.done;
    const id = /deploying to \S+ \(\S+\) as (\S+)/.exec(run.stderr())?.[1];
    results.push({
      killedAfterMs,
      ...(id ? { id } : {}),
      tookOver: run.stderr().includes("taking over the lock"),
      endedLeftovers: run.stderr().includes("first ended what it left running"),
    });
  }
  // After the kills, a deploy that is left alone succeeds.
  writeFileSync(join(dir, "environments/app.json"), json(bracketed(port, log, options.trials)));
  const last = await kaupang(["up", "app", "--target", options.target, "--no-resolve", "--cwd", dir]);
  expect(last.code, last.stderr).toBe(0);
  expect(await waitHttp(`http://127.0.0.1:${port}/`)).toMatch(/kaupang/i);
  const verify = await kaupang(["ledger", "verify", "--target", options.target, "--cwd", dir]);
  expect(verify.code, verify.stderr).toBe(0);
  const history = await kaupang([
    "history",
    "app",
    "--target",
    options.target,
    "--output",
    "json",
    "--cwd",
    dir,
  ]);
  const deploys = JSON.parse(history.stdout) as { id: string; status: string }[];
  const byId = new Map(deploys.map((d) => [d.id, d.status]));

  const lines = logLines(log);
  assertNoOverlap(lines);
  // Every run that reached its apply (it printed its id, or its hooks logged it) is in history, with an outcome.
  const applied = new Set([...results.flatMap((r) => (r.id ? [r.id] : [])), ...lines.map(([, id]) => id)]);
  for (const id of applied) {
    expect(["succeeded", "failed", "interrupted"], `${id}: ${byId.get(id)}`).toContain(byId.get(id));
  }
  expect(deploys.at(-1)?.status).toBe("succeeded");
  return { dir, results, deploys, applied, log: lines };
}

const summary = (label: string, r: Awaited<ReturnType<typeof killTrials>>) => {
  const statuses = r.deploys.reduce<Record<string, number>>((acc, d) => {
    acc[d.status] = (acc[d.status] ?? 0) + 1;
    return acc;
  }, {});
  const killTimes = r.results.map((t) => t.killedAfterMs).sort((a, b) => a - b);
  console.log(
    `${label}: ${r.results.length} runs killed (-9) at ${killTimes[0]}–${killTimes.at(-1)} ms; ` +
      `${r.applied.size} reached their apply, ${r.results.length + 1 - r.applied.size} were killed before it; ` +
      `${r.results.filter((t) => t.tookOver).length} took over a dead holder's lock, ` +
      `${r.results.filter((t) => t.endedLeftovers).length} of them after ending what it left running; ` +
      `history: ${r.deploys.length} deploys ${JSON.stringify(statuses)}`,
  );
};

// The tier runs 30 kills on compose and 10 on swarm; KAUPANG_KILL_TRIALS=N runs N on compose and N/3 on
// swarm (a longer bench on the same code).
const composeTrials = Math.max(1, Number(process.env.KAUPANG_KILL_TRIALS ?? 30));
const swarmTrials = Math.max(1, Math.round(composeTrials / 3));

describe("kill -9 at random points during up (real engine)", () => {
  it(`compose, ${composeTrials} runs: every run shows in history, the ledger verifies, no applies overlap, the next up succeeds`, async () => {
    const r = await killTrials({ target: "local", trials: composeTrials, maxKillMs: 5000 });
    summary("compose", r);
    expect(r.results.filter((t) => t.tookOver).length).toBeGreaterThan(0);
  });

  it(`swarm, ${swarmTrials} runs: the same`, async () => {
    const r = await killTrials({ target: "swarm", trials: swarmTrials, maxKillMs: 6000 });
    summary("swarm", r);
  });
});

describe("Ctrl-C and SIGTERM during up", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${signal}: stops the running hook, records interrupted, releases the lock, exits ${code}`, async () => {
      const name = fresh();
      const port = await freePort();
      const dir = project(name, {
        app: {
          services: { web: httpService(port) },
          hooks: { beforeUp: ["sleep 20; touch hook-went-on"] },
        },
      });
      const marker = join(dir, "hook-went-on");
      const run = startUp(["app", "--no-resolve", "--cwd", dir]);
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (run.stderr().includes("beforeUp hook")) {
            clearInterval(check);
            resolve();
          }
        }, 50);
      });
      const sent = Date.now();
      run.child.kill(signal);
      expect(await run.done).toBe(code);
      expect(Date.now() - sent).toBeLessThan(3000);
      expect(run.stderr()).toMatch(
        /error: interrupted \(SIG(INT|TERM)\) while deploying app \(\S+, recorded as interrupted\)/,
      );
      expect(existsSync(join(dir, ".kaupang/locks/app@local.lock"))).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(existsSync(marker), "the hook's sleep was stopped, so it never went on").toBe(false);
      const history = await kaupang(["history", "app", "--output", "json", "--cwd", dir]);
      expect(JSON.parse(history.stdout)).toMatchObject([
        {
          status: "interrupted",
          failedStep: "hook",
          error: expect.stringContaining(`interrupted (${signal})`),
        },
      ]);
      const status = await kaupang(["status", "app", "--cwd", dir]);
      expect(status.stdout).toMatch(/last deploy \S+ \(up\) interrupted/);
      writeFileSync(join(dir, "environments/app.json"), json({ services: { web: httpService(port) } }));
      const next = await kaupang(["up", "app", "--no-resolve", "--cwd", dir]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).not.toContain("taking over");
    });
  }
});
