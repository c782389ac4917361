import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "./testing/cli.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const examples = join(repo, "examples");
const bin = join(repo, "packages/cli/bin/kaupang.mjs");

/** The secret() variables the examples reference; set, so the dry-runs have nothing to warn about. */
const exampleSecrets = { LONGHALL_JARL_KEY: "k", JSONCONF_API_KEY: "k" };
const saved = Object.fromEntries(Object.keys(exampleSecrets).map((k) => [k, process.env[k]]));
beforeAll(() => Object.assign(process.env, exampleSecrets));
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe("up --dry-run", () => {
  it("prints the environment order, service waves and commands", async () => {
    const r = await cli("up", "market", "--dry-run", "--cwd", join(examples, "longhall"));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(
      [
        "Environment start order:",
        "  1. ● runes",
        "  2. ● saga",
        "  3. ◆ market ← depends on saga, runes",
        "",
        "runes",
        "  └─ wave 1: cache",
        "saga",
        "  └─ wave 1: store",
        "market",
        "  ├─ wave 1: migrate",
        "  └─ wave 2: parallel web, worker",
      ].join("\n"),
    );
    expect(r.stdout).toMatch(
      /\$ docker compose -p longhall-market --project-directory \S+ -f \.kaupang\/local\/market\.compose\.yaml up -d --wait --remove-orphans --pull missing/,
    );
    expect(r.stdout).toContain("requires secrets from the environment: LONGHALL_JARL_KEY");
  });

  it("--output json keeps the plan's shape: each environment without the derived wave artifacts and views", async () => {
    const r = await cli(
      "up",
      "market",
      "--dry-run",
      "--output",
      "json",
      "--target",
      "vanaheim-swarm",
      "--cwd",
      join(examples, "longhall"),
    );
    const market = JSON.parse(r.stdout).environments.at(-1);
    expect(Object.keys(market)).toEqual([
      "environment",
      "file",
      "dependsOn",
      "waves",
      "runOnce",
      "replicas",
      "images",
      "secrets",
      "artifact",
      "hooks",
      "commands",
    ]);
    // The plan's commands include swarm's re-run of the one-shot migration.
    expect(market.commands.map((c: { argv: string[] }) => c.argv.slice(1, 3).join(" "))).toContain(
      "service update",
    );
  });

  it("--output json prints the whole plan as clean JSON", async () => {
    const r = await cli(
      "up",
      "market",
      "--dry-run",
      "--output",
      "json",
      "--target",
      "asgard-k8s",
      "--cwd",
      join(examples, "longhall"),
    );
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({
      dryRun: true,
      project: "longhall",
      target: "asgard-k8s",
      backend: "kubernetes",
      environmentOrder: ["runes", "saga", "market"],
      environmentWaves: [["runes", "saga"], ["market"]],
    });
    const market = plan.environments.find((e: { environment: string }) => e.environment === "market");
    expect(market.waves).toEqual([["migrate"], ["web", "worker"]]);
    expect(market.artifact.path).toBe(".kaupang/asgard-k8s/market.k8s.yaml");
    expect(market.artifact.content).toContain("kind: Deployment");
    const apply = market.commands.find((c: { argv: string[] }) => c.argv.includes("apply"));
    expect(apply.argv.slice(0, 4)).toEqual(["kubectl", "--context", "kaupang-a", "apply"]);
    expect(market.images).toContainEqual({
      service: "web",
      ref: "127.0.0.1:5000/longhall/longhall-market:latest",
      pinned: false,
    });
  });

  const cases: [string, string, string[]][] = [
    ["minimal", "web", []],
    ["json-config", "api", []],
    ["json-config", "api", ["--target", "swarm"]],
    ["longhall", "market", ["--target", "local"]],
    ["longhall", "market", ["--target", "vanaheim-swarm"]],
    ["longhall", "market", ["--target", "asgard-k8s"]],
  ];
  it.each(cases)("example %s: up %s %j passes", async (example, env, extra) => {
    const r = await cli("up", env, "--dry-run", ...extra, "--cwd", join(examples, example));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("run --dry-run prints the step waves", async () => {
    const r = await cli("run", "voyage", "--dry-run", "--cwd", join(examples, "longhall"));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("wave 1:\n  build: build market");
    expect(r.stdout).toContain(
      "wave 4:\n  smoke: run curl -fsS http://127.0.0.1:18090/ | grep -q 'market of the longhall'  ← needs health",
    );
    expect(r.stdout).toContain("Step deploy: up market");
  });
});

describe("dry-run is hermetic (built CLI, spies on PATH, no network namespace)", () => {
  const work = mkdtempSync(join(tmpdir(), "kaupang-hermetic-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const spies = join(work, "spies");
  const calls = join(work, "calls.log");
  // Without the cache of a deploy made from the example here (the README's demo leaves one):
  // the test is that the dry-run writes none.
  cpSync(join(examples, "longhall"), join(work, "longhall"), {
    recursive: true,
    filter: (source) => basename(source) !== ".kaupang",
  });
  mkdirSync(spies);
  for (const tool of ["docker", "kubectl", "oras", "curl", "wget", "skopeo", "git", "sh", "bash"]) {
    const file = join(spies, tool);
    writeFileSync(file, `#!/bin/sh\necho "${tool} $*" >> ${calls}\nexit 97\n`);
    chmodSync(file, 0o755);
  }
  // unshare --net gives the process no network at all; as root this is always available.
  const unshare = spawnSync("unshare", ["--net", "true"]).status === 0;

  const run = (...args: string[]) => {
    const argv = [process.execPath, bin, ...args];
    const result = spawnSync(
      unshare ? "unshare" : argv[0]!,
      unshare ? ["--net", "--", ...argv] : argv.slice(1),
      {
        // Spies come first, so they shadow any real docker/kubectl next to node.
        // The examples' secrets are set: an unset one is a warning, tested on its own.
        env: { PATH: `${spies}:${dirname(process.execPath)}`, HOME: work, ...exampleSecrets },
        encoding: "utf8",
      },
    );
    return result;
  };

  it("needs the built CLI", () => {
    expect(existsSync(join(repo, "packages/cli/dist/cli.js")), "run `npm run build` first").toBe(true);
  });

  it.each([["local"], ["vanaheim-swarm"], ["asgard-k8s"]])(
    "up market --target %s calls no tool and writes nothing",
    (target) => {
      const r = run("up", "market", "--dry-run", "--target", target, "--cwd", join(work, "longhall"));
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const json = run(
        "up",
        "market",
        "--dry-run",
        "--output",
        "json",
        "--target",
        target,
        "--cwd",
        join(work, "longhall"),
      );
      expect(json.status).toBe(0);
      expect(JSON.parse(json.stdout).target).toBe(target);
      expect(existsSync(calls) ? readFileSync(calls, "utf8") : "").toBe("");
      expect(readdirSync(join(work, "longhall"))).not.toContain(".kaupang");
    },
  );

  it("run voyage --dry-run calls no tool", () => {
    const r = run("run", "voyage", "--dry-run", "--cwd", join(work, "longhall"));
    expect(r.status).toBe(0);
    expect(existsSync(calls) ? readFileSync(calls, "utf8") : "").toBe("");
  });

  it("the spies do record calls (the check above can fail)", () => {
    spawnSync(join(spies, "docker"), ["version"]);
    expect(readFileSync(calls, "utf8")).toBe("docker version\n");
    rmSync(calls);
  });
});
