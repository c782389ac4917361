/**
 * Two "agents" deploying one project to one target with state: "target":
 * two working copies of the project (each with its own cacheDir, like two
 * ephemeral CI runners), sharing nothing but the target. The scenarios are
 * the same for compose, swarm and Kubernetes; each backend's test file says
 * how it checks what runs.
 */
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect } from "vitest";
import { kaupang, sh } from "./kaupang.js";

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A second working copy of `dir`'s project: the same files, none of its .kaupang. */
export function secondAgent(dir: string): string {
  const copy = mkdtempSync(join(tmpdir(), "kaupang-agent-b-"));
  copies.push(copy);
  cpSync(dir, copy, { recursive: true, filter: (src) => !src.includes(".kaupang") });
  return copy;
}

interface HistoryEntry {
  id: string;
  action: string;
  status: string;
  rollbackOf?: string;
  by: { user: string; host: string };
  error?: string;
  outcomeMissing?: boolean;
}

/** `kaupang history <env> --output json` of one agent. */
export async function history(dir: string, env: string, target: string): Promise<HistoryEntry[]> {
  const r = await kaupang(["history", env, "--target", target, "--output", "json", "--cwd", dir]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as HistoryEntry[];
}

/** Run kaupang and expect it to succeed; returns its stderr (progress). */
export async function ok(dir: string, ...args: string[]): Promise<string> {
  const r = await kaupang([...args, "--cwd", dir]);
  expect(r.code, `kaupang ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stderr;
}

/**
 * Hooks that prove two applies never overlap: each agent's beforeUp appends
 * "<agent> start <ns>" to `log` and sleeps, its afterUp appends "<agent> end
 * <ns>"; the hooks run inside the lock, around the apply.
 */
export const overlapHooks = (log: string, holdSeconds = 2) => ({
  beforeUp: [`echo "$KAUPANG_AGENT start $(date +%s%N)" >> ${log}; sleep ${holdSeconds}`],
  afterUp: [`echo "$KAUPANG_AGENT end $(date +%s%N)" >> ${log}`],
});

/** The intervals the hooks logged, checked to never overlap: start, end, start, end… each pair one agent's. */
export function expectNoOverlap(log: string, agents: string[]): void {
  const lines = readFileSync(log, "utf8").trim().split("\n");
  expect(lines).toHaveLength(agents.length * 2);
  const events = lines.map((l) => {
    const [agent, what, ns] = l.split(" ");
    return { agent: agent!, what: what!, at: BigInt(ns!) };
  });
  for (let i = 0; i < events.length; i += 2) {
    const [start, end] = [events[i]!, events[i + 1]!];
    expect([start.what, end.what]).toEqual(["start", "end"]);
    expect(end.agent).toBe(start.agent);
    expect(end.at > start.at).toBe(true);
    if (i > 0) expect(start.at > events[i - 1]!.at).toBe(true);
  }
  expect(new Set(events.map((e) => e.agent))).toEqual(new Set(agents));
}

/** Mark the start of the log with nothing (so the file exists) and return its path. */
export function overlapLog(): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-overlap-"));
  copies.push(dir);
  const log = join(dir, "applies.log");
  appendFileSync(log, "");
  return log;
}

/** Whether this machine can give a process a hostname of its own (an unshared UTS namespace). */
export function canUnshareHostname(): boolean {
  return sh(["unshare", "-u", "sh", "-c", "hostname kaupang-probe && hostname"]).out === "kaupang-probe";
}

/**
 * Start kaupang as "another machine": in a UTS namespace whose hostname is
 * `host`, so the lock it takes names that host and a run here cannot judge by
 * pid whether it still runs. Resolves once its stderr contains `when`.
 */
export async function startElsewhere(
  host: string,
  args: string[],
  when: string,
  env: Record<string, string> = {},
): Promise<{ pid: number; stderr: () => string; closed: Promise<unknown> }> {
  const bin = join(process.cwd(), "packages/cli/bin/kaupang.mjs");
  // unshare execs sh, which execs node: the pid we hold is kaupang's.
  const child = spawn(
    "unshare",
    ["-u", "sh", "-c", `hostname ${host} && exec "$0" "$@"`, process.execPath, bin, ...args],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } },
  );
  let stderr = "";
  const closed = new Promise((resolve) => child.on("close", resolve));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (d) => {
      stderr += String(d);
      if (stderr.includes(when)) resolve();
    });
    child.on("close", () => reject(new Error(`kaupang ended before "${when}": ${stderr}`)));
  });
  return { pid: child.pid!, stderr: () => stderr, closed };
}
