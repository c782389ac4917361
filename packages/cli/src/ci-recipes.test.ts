/**
 * The CI recipes of docs/ci/: the YAML files lint (actionlint for GitHub
 * Actions, built from its Go module; a strict schema plus reference checks for
 * Azure Pipelines and GitLab CI), each page embeds its files verbatim, each
 * recipe has the spec's patterns, and the pull-request checks really run
 * (they are dry-runs). test/e2e/k8s/ci-recipes.test.ts runs the deploys.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  azureJobs,
  ciDir,
  githubJobs,
  gitlabJobDefinitions,
  type Job,
  kaupangCommands,
  readYaml,
} from "../../../test/support/ci-recipes.js";
import { cli } from "./testing/cli.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const project = join(ciDir, "project");
const scratch = mkdtempSync(join(tmpdir(), "kaupang-ci-lint-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const files = (dir: string) =>
  readdirSync(join(ciDir, dir))
    .filter((f) => f.endsWith(".yml"))
    .map((f) => `${dir}/${f}`);
const azureFiles = files("azure");
const githubFiles = files("github");
const gitlabFiles = files("gitlab");

/** Every kaupang command of every shell step, with the job it is in. */
const commandsOf = (jobs: Job[]) =>
  jobs.flatMap((job) =>
    job.steps.flatMap((s) =>
      s.kind === "shell" ? kaupangCommands(s.script).map((argv) => ({ job, argv })) : [],
    ),
  );

// Variable tables: what the CI system would supply. The lint checks only that
// every reference is defined; the e2e test supplies real values.
const azureVars = {
  "Build.BuildId": "1",
  "Pipeline.Workspace": "/w",
  "Agent.TempDirectory": "/t",
  STAGING_DOCKER_HOST: "x",
  PROD_KUBECONFIG: "x",
  jarlKey: "x",
};
const githubTable = {
  "github.run_id": "1",
  "github.run_attempt": "1",
  "github.actor": "x",
  "secrets.GITHUB_TOKEN": "x",
  "secrets.STAGING_DOCKER_HOST": "x",
  "secrets.LONGHALL_JARL_KEY": "x",
  "secrets.PROD_KUBECONFIG_PATH": "x",
  "inputs.target": "prod",
  "inputs.to": "",
  "inputs.target == 'prod' && 'production' || 'staging'": "production",
};

describe("GitHub Actions: actionlint", () => {
  const cache =
    process.env.KAUPANG_TOOLS_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? "/root", ".cache"), "kaupang-tools");
  const actionlint = join(cache, "bin/actionlint");
  beforeAll(() => {
    // Built from its Go module into the tools cache (under flock; cached after the first run).
    const build = spawnSync("bash", [join(repo, "test/e2e/harness/build-tools.sh"), "actionlint"], {
      encoding: "utf8",
      env: { ...process.env, KAUPANG_TOOLS_CACHE: cache },
    });
    if (build.status !== 0) throw new Error(`build-tools.sh actionlint failed:\n${build.stderr}`);
  }, 600_000);

  const lint = (paths: string[]) =>
    spawnSync(actionlint, ["-config-file", join(ciDir, "github/actionlint.yaml"), ...paths], {
      encoding: "utf8",
    });

  it("runs shellcheck too (so run: scripts are checked)", () => {
    expect(spawnSync("shellcheck", ["--version"]).status, "shellcheck on PATH").toBe(0);
  });

  it("passes on every workflow", () => {
    expect(githubFiles.length).toBe(3);
    const r = lint(githubFiles.map((f) => join(ciDir, f)));
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("fails on a broken workflow (the linter is really checking)", () => {
    const broken = readFileSync(join(ciDir, "github/deploy.yml"), "utf8")
      .replace("needs: staging", "needs: stagin")
      .replace(
        "run: npx @kaupang/cli status api --target staging",
        'run: npx @kaupang/cli status api --target $ENV_TARGET"',
      );
    const file = join(scratch, "broken.yml");
    writeFileSync(file, broken);
    const r = lint([file]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain('"stagin"');
    expect(r.stdout).toContain("shellcheck");
  });
});

function validator(schemaFile: string) {
  const schema = JSON.parse(
    readFileSync(new URL(`../../../test/support/ci-schemas/${schemaFile}`, import.meta.url), "utf8"),
  );
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  return (doc: unknown) =>
    validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe("Azure Pipelines: schema and references", () => {
  const check = validator("azure-pipelines.schema.json");

  it.each(azureFiles)("%s matches the schema", (file) => {
    expect(check(readYaml(file))).toEqual([]);
  });

  it.each(azureFiles)("%s: stage dependsOn, $(variables) and ${{ parameters }} all resolve", (file) => {
    const doc = readYaml(file);
    const stages = (doc.stages ?? []).map((s: { stage: string }) => s.stage);
    for (const s of doc.stages ?? []) for (const d of [s.dependsOn ?? []].flat()) expect(stages).toContain(d);
    expect(() => azureJobs(file, { variables: azureVars })).not.toThrow();
  });

  it("rejects a misspelt key and an undefined variable", () => {
    const doc = readYaml("azure/azure-pipelines.yml");
    doc.stages[1].jobs[0].enviroment = doc.stages[1].jobs[0].environment;
    delete doc.stages[1].jobs[0].environment;
    expect(check(doc).length).toBeGreaterThan(0);
    const { jarlKey: _gone, ...without } = azureVars;
    expect(() => azureJobs("azure/azure-pipelines.yml", { variables: without })).toThrow(/variable jarlKey/);
  });
});

describe("GitLab CI: schema and references", () => {
  const check = validator("gitlab-ci.schema.json");

  it.each(gitlabFiles)("%s matches the schema", (file) => {
    expect(check(readYaml(file))).toEqual([]);
  });

  it.each(gitlabFiles)("%s: every job's stage, extends and needs exist", (file) => {
    const doc = readYaml(file);
    const jobs = gitlabJobDefinitions(file);
    for (const [name, job] of jobs) {
      expect(doc.stages, `${name}.stage`).toContain(job.stage);
      for (const need of job.needs ?? [])
        expect([...jobs.keys()]).toContain(typeof need === "string" ? need : need.job);
    }
  });

  it("rejects a misspelt key", () => {
    const doc = readYaml("gitlab/gitlab-ci.yml");
    doc.staging.artefacts = doc.staging.artifacts;
    expect(check(doc).join("\n")).toContain("must NOT have additional properties");
  });
});

describe("the pages embed their files verbatim", () => {
  const pages: [string, string[]][] = [
    ["azure-devops.md", azureFiles],
    ["github-actions.md", githubFiles],
    ["gitlab-ci.md", gitlabFiles],
  ];
  it.each(pages)("docs/ci/%s", (page, yamls) => {
    const text = readFileSync(join(ciDir, page), "utf8");
    for (const file of yamls) {
      const content = readFileSync(join(ciDir, file), "utf8");
      expect(text, file).toContain(`\`\`\`yaml\n${content}\`\`\``);
      expect(text, file).toContain(`docs/ci/${file}`);
    }
  });
});

describe("each recipe has the spec's patterns", () => {
  const platforms: [string, Job[]][] = [
    [
      "azure",
      azureFiles.flatMap((f) =>
        azureJobs(f, { variables: azureVars }).map((j) => ({ ...j, name: `${f}:${j.name}` })),
      ),
    ],
    [
      "github",
      githubFiles.flatMap((f) => githubJobs(f, githubTable).map((j) => ({ ...j, name: `${f}:${j.name}` }))),
    ],
    [
      "gitlab",
      gitlabFiles.flatMap((f) => {
        const jobs = [...gitlabJobDefinitions(f).values()];
        return jobs.map((job, i) => ({
          name: `${f}:${i}`,
          steps: [job.script]
            .flat()
            .map((script: string) => ({ kind: "shell" as const, name: script, script, env: {} })),
        }));
      }),
    ],
  ];

  it.each(platforms)("%s", (_platform, jobs) => {
    const scripts = jobs.flatMap((j) => j.steps.flatMap((s) => (s.kind === "shell" ? [s.script] : [])));
    const all = scripts.join("\n");
    // Build and push with an immutable (per-build) tag.
    expect(all).toMatch(/docker build .*-t \S*longhall-api:\S*(imageTag|IMAGE_TAG|1)/);
    expect(all).toMatch(/docker push \S*longhall-api:\S*(imageTag|IMAGE_TAG|1)/);
    const commands = commandsOf(jobs).map(({ argv }) => argv.join(" "));
    expect(commands).toContain("up api --target staging --output json");
    expect(all).toMatch(/--output json > resolved\.json/);
    expect(commands.some((c) => /^up api --target prod --from \S*resolved\.json$/.test(c))).toBe(true);
    expect(commands).toContain("up api --target staging --dry-run");
    expect(commands.some((c) => c.startsWith("rollback api --target") && c.includes("--to"))).toBe(true);
    expect(commands.some((c) => c.startsWith("rollback api --target") && !c.includes("--to"))).toBe(true);
  });

  it("every kaupang command of every recipe parses: its dry-run plans against docs/ci/project", async () => {
    const seen = new Set<string>();
    for (const [, jobs] of platforms) {
      for (const { argv } of commandsOf(jobs)) {
        const concrete = argv.map((a) =>
          a === '"$TARGET"' || a === "$TARGET" || a === '"$ROLLBACK_TARGET"' ? "prod" : a,
        );
        const key = concrete.join(" ");
        if (seen.has(key) || concrete.some((a) => a.includes("$"))) continue;
        seen.add(key);
        if (concrete[0] !== "up") continue; // rollback needs a ledger: the e2e test runs those
        const args = concrete.filter((a, i) => a !== "--from" && concrete[i - 1] !== "--from");
        const r = await cli(...args, ...(args.includes("--dry-run") ? [] : ["--dry-run"]), "--cwd", project);
        expect(r.code, `${key}: ${r.stderr}`).toBe(0);
      }
    }
    expect(seen.size).toBeGreaterThan(3);
  });
});

it("docs/ci/project is what the recipes deploy: api on staging (swarm) and prod (kubernetes)", async () => {
  const r = await cli("up", "api", "--target", "prod", "--dry-run", "--output", "json", "--cwd", project);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ project: "hedeby", target: "prod", backend: "kubernetes" });
  const s = await cli("up", "api", "--target", "staging", "--dry-run", "--output", "json", "--cwd", project);
  expect(JSON.parse(s.stdout)).toMatchObject({ target: "staging", backend: "swarm" });
});
