import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";

const bin = fileURLToPath(new URL("../../../packages/cli/bin/kaupang.mjs", import.meta.url));

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built kaupang CLI as a real process. */
export function kaupang(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Run a command synchronously; returns trimmed stdout and the exit code. */
export function sh(
  argv: string[],
  options: { env?: Record<string, string>; input?: string; cwd?: string } = {},
): { code: number; out: string; err: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    cwd: options.cwd,
    encoding: "utf8",
    env: { ...process.env, ...options.env },
    input: options.input,
  });
  return { code: r.status ?? 1, out: (r.stdout ?? "").trim(), err: (r.stderr ?? "").trim() };
}

/**
 * `sh`, without blocking the test worker: for commands that take minutes
 * (npm ci, a build), during which a blocked worker cannot answer vitest.
 */
export function shAsync(
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, out: out.trim(), err: err.trim() }));
  });
}

/** A project name no other test run uses. */
export function uniqueProject(prefix = "e2e"): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/**
 * Unique project names for one test file (`prefix-xxxxxx`); everything each
 * one created on the engine is removed after the file, whatever happened.
 */
export function projectNames(prefix: string): () => string {
  const names: string[] = [];
  afterAll(() => names.forEach(cleanupProject));
  return () => {
    const name = uniqueProject(prefix);
    names.push(name);
    return name;
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** GET a URL until it answers 200 or the deadline passes; returns the body. */
export async function waitHttp(url: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return await response.text();
      last = `status ${response.status}`;
    } catch (error) {
      last = String((error as Error).message);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs}ms (${last})`);
}

export function fail(message: string): never {
  throw new Error(message);
}

/** The engine must answer; in CI an unavailable engine fails the tier loudly (never a skip). */
export function requireDocker(): void {
  const info = sh(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"]);
  if (info.code !== 0)
    fail(`the Docker engine does not answer (run test/e2e/harness/docker-up.sh): ${info.err}`);
  if (!process.env.KAUPANG_TEST_REGISTRY)
    fail("harness.env is not loaded: run the e2e tiers through `npm test`");
}

/** Remove everything a test project created on the engine, whatever state it is in. */
export function cleanupProject(project: string): void {
  const stacks = sh(["docker", "stack", "ls", "--format", "{{.Name}}"])
    .out.split("\n")
    .filter((s) => s.startsWith(`${project}-`));
  for (const stack of stacks) sh(["docker", "stack", "rm", stack]);
  const label = `label=dev.kaupang.project=${project}`;
  const containers = sh(["docker", "ps", "-aq", "--filter", label]).out.split("\n").filter(Boolean);
  if (containers.length > 0) sh(["docker", "rm", "-f", ...containers]);
  // Stacks finish removing in the background: wait for their services and containers.
  for (let i = 0; i < 60; i++) {
    const left =
      sh(["docker", "service", "ls", "-q", "--filter", label]).out +
      sh(["docker", "ps", "-aq", "--filter", label]).out;
    if (!left) break;
    spawnSync("sleep", ["1"]);
  }
  for (let i = 0; i < 30 && sh(["docker", "network", "rm", project]).code !== 0; i++) {
    if (sh(["docker", "network", "inspect", project]).code !== 0) break;
    spawnSync("sleep", ["1"]);
  }
  const volumes = sh(["docker", "volume", "ls", "-q", "--filter", `name=${project}`])
    .out.split("\n")
    .filter(Boolean);
  if (volumes.length > 0) sh(["docker", "volume", "rm", "-f", ...volumes]);
}
