/**
 * The examples gallery, deployed for real: each example unchanged, from a copy
 * (so .kaupang stays out of the repo), with the commands its README gives.
 * longhall is flagship.test.ts; kubernetes is test/e2e/k8s/gallery.test.ts.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupProject, kaupang, requireDocker, sh, waitHttp } from "../support/kaupang.js";

const work = mkdtempSync(join(tmpdir(), "kaupang-gallery-"));
const projects = [
  "minimal",
  "my-service",
  "migrations",
  "presets",
  "secrets",
  "jsonconf",
  "pipeline-example",
];

function example(name: string): string {
  const dir = join(work, name);
  cpSync(fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url)), dir, {
    recursive: true,
    filter: (source) => !source.endsWith(".kaupang"),
  });
  return dir;
}

/** Containers (running or not) of one service of a project, by kaupang's labels. */
function containers(project: string, service?: string): string[] {
  const filters = ["--filter", `label=dev.kaupang.project=${project}`];
  if (service) filters.push("--filter", `label=dev.kaupang.service=${service}`);
  return sh(["docker", "ps", "-aq", ...filters])
    .out.split("\n")
    .filter(Boolean);
}

function inspect(container: string, format: string): string {
  const r = sh(["docker", "inspect", "--format", format, container]);
  if (r.code !== 0) throw new Error(r.err);
  return r.out;
}

/** Every file under `dir`, concatenated. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => join(dir, p))
    .filter((p) => statSync(p).isFile())
    .map((p) => readFileSync(p, "utf8"))
    .join("\n");
}

async function upAndDown(
  dir: string,
  env: string,
  url: string,
  expected: string,
  options: { target?: string; vars?: Record<string, string> } = {},
) {
  const target = options.target ? ["--target", options.target] : [];
  const up = await kaupang(["up", env, ...target, "--cwd", dir], { env: options.vars });
  expect(up.code, up.stderr).toBe(0);
  expect(up.stderr).toContain(`${env}: deployed`);
  expect(await waitHttp(url, 60_000)).toContain(expected);
  const down = await kaupang(["down", env, ...target, "--cwd", dir], { env: options.vars });
  expect(down.code, down.stderr).toBe(0);
}

beforeAll(() => {
  requireDocker();
  projects.forEach(cleanupProject);
});
afterAll(() => {
  projects.forEach(cleanupProject);
  rmSync(work, { recursive: true, force: true });
});

describe("examples gallery on the real engine", () => {
  it("minimal: up, answers, down leaves nothing", async () => {
    const dir = example("minimal");
    await upAndDown(dir, "web", "http://127.0.0.1:18080/", "<");
    expect(containers("minimal")).toEqual([]);
  });

  it("build-from-dockerfile: build --push, deploy the pushed digest with compose, then on swarm", async () => {
    const dir = example("build-from-dockerfile");
    const build = await kaupang(["build", "app", "--push", "--cwd", dir]);
    expect(build.code, build.stderr).toBe(0);

    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    expect(await waitHttp("http://127.0.0.1:18082/")).toContain("my-service, built from its own Dockerfile.");
    const [app] = containers("my-service", "app");
    expect(inspect(app!, "{{.Config.Image}}")).toMatch(
      /^127\.0\.0\.1:5000\/kaupang-examples\/my-service@sha256:[0-9a-f]{64}$/,
    );
    const down = await kaupang(["down", "app", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);

    await upAndDown(dir, "app", "http://127.0.0.1:18082/", "built from its own Dockerfile", {
      target: "prod",
    });
  });

  it("runonce-migrations: migrate exits 0 before web and worker start; also on swarm", async () => {
    const dir = example("runonce-migrations");
    const up = await kaupang(["up", "shop", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    await waitHttp("http://127.0.0.1:18083/");
    const [migrate] = containers("migrations", "migrate");
    expect(inspect(migrate!, "{{.State.Status}} {{.State.ExitCode}}")).toBe("exited 0");
    const logs = await kaupang(["logs", "shop", "migrate", "--cwd", dir]);
    expect(logs.stdout + logs.stderr).toContain("applied migration 0002_orders");
    const finished = Date.parse(inspect(migrate!, "{{.State.FinishedAt}}"));
    for (const service of ["web", "worker"]) {
      const [c] = containers("migrations", service);
      expect(Date.parse(inspect(c!, "{{.State.StartedAt}}")), service).toBeGreaterThanOrEqual(finished);
    }
    const down = await kaupang(["down", "shop", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);

    await upAndDown(dir, "shop", "http://127.0.0.1:18083/", "<", { target: "swarm" });
  });

  it("catalog-presets: presets deployed with their overrides merged", async () => {
    const dir = example("catalog-presets");
    const up = await kaupang(["up", "app", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    await waitHttp("http://127.0.0.1:18084/");
    const env = (service: string) => inspect(containers("presets", service)[0]!, "{{json .Config.Env}}");
    expect(env("kv")).toContain("KV_MAX_MEMORY=64mb");
    expect(env("store")).toContain("STORE_RETENTION=7d");
    expect(env("site")).toContain("STORE_URL=http://store:5432/");
    const down = await kaupang(["down", "app", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
  });

  it("secrets: a missing secret deploys nothing; a set one reaches the container and no file", async () => {
    const dir = example("secrets");
    const missing = await kaupang(["up", "api", "--cwd", dir], {
      env: { SECRETS_EXAMPLE_API_KEY: undefined, SECRETS_EXAMPLE_DB_PASSWORD: "x" },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("SECRETS_EXAMPLE_API_KEY");
    expect(containers("secrets")).toEqual([]);

    const apiKey = `key-${Math.random().toString(36).slice(2)}`;
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const vars = { SECRETS_EXAMPLE_API_KEY: apiKey, SECRETS_EXAMPLE_DB_PASSWORD: password };
    const up = await kaupang(["up", "api", "--cwd", dir], { env: vars });
    expect(up.code, up.stderr).toBe(0);
    await waitHttp("http://127.0.0.1:18085/");
    const [web] = containers("secrets", "web");
    expect(sh(["docker", "exec", web!, "printenv", "API_KEY"]).out).toBe(apiKey);
    expect(sh(["docker", "exec", web!, "printenv", "DB_PASS"]).out).toBe(password);
    expect(sh(["docker", "exec", web!, "printenv", "LOG_LEVEL"]).out).toBe("info");
    const written = allText(join(dir, ".kaupang"));
    expect(written).toContain("SECRETS_EXAMPLE_API_KEY");
    expect(written).not.toContain(apiKey);
    expect(written).not.toContain(password);
    expect(up.stdout + up.stderr).not.toContain(apiKey);
    const down = await kaupang(["down", "api", "--cwd", dir], { env: vars });
    expect(down.code, down.stderr).toBe(0);
  });

  it("json-config: the pure-JSON config deploys", async () => {
    const dir = example("json-config");
    const vars = { JSONCONF_API_KEY: "s3cret" };
    const up = await kaupang(["up", "api", "--cwd", dir], { env: vars });
    expect(up.code, up.stderr).toBe(0);
    await waitHttp("http://127.0.0.1:18081/");
    // { "$catalog": "kv", "overrides": { … } }: the preset with the override merged in.
    expect(inspect(containers("jsonconf", "kv")[0]!, "{{json .Config.Env}}")).toContain("KV_MODE=json");
    const down = await kaupang(["down", "api", "--cwd", dir], { env: vars });
    expect(down.code, down.stderr).toBe(0);
  });

  it("pipeline: run release builds, deploys, waits, smoke-tests; run teardown removes it", async () => {
    const dir = example("pipeline");
    const release = await kaupang(["run", "release", "--cwd", dir]);
    expect(release.code, release.stderr).toBe(0);
    expect(release.stdout + release.stderr).toContain("released web");
    expect(await waitHttp("http://127.0.0.1:18087/")).toContain("Released by the pipeline example.");
    const history = await kaupang(["history", "web", "--output", "json", "--cwd", dir]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toContain("succeeded");
    const teardown = await kaupang(["run", "teardown", "--cwd", dir]);
    expect(teardown.code, teardown.stderr).toBe(0);
    expect(containers("pipeline-example")).toEqual([]);
  });
});
