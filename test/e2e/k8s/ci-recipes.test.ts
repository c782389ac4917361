/**
 * The CI recipes of docs/ci/, run: each recipe's jobs in order, each job in a
 * fresh checkout of docs/ci/project, its kaupang and docker build/push steps
 * executed with bash exactly as written (the CI system's variables filled in),
 * artifacts handed from job to job the way the CI system does, and `npx
 * @kaupang/cli` being this build of the CLI. Staging is the real swarm, prod the
 * real Kubernetes API server of this tier; the ledger lives in KAUPANG_CACHE_DIR
 * (the recipes' persistent-volume option). Checkout, Node setup and registry or
 * cluster logins are the CI system's and are not run.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
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
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  azureJobs,
  ciDir,
  githubJobs,
  gitlabJobDefinitions,
  gitlabJobs,
  type Job,
} from "../../support/ci-recipes.js";
import { cleanupProject, kaupang, requireDocker, sh, waitHttp } from "../support/kaupang.js";
import {
  digestOf,
  getJson,
  kubeconfig,
  kubectl,
  registry,
  requireCluster,
  runningOnNode,
} from "./support.js";

const bin = fileURLToPath(new URL("../../../packages/cli/bin/kaupang.mjs", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "kaupang-ci-recipes-"));
const shims = join(work, "shims");
const namespace = "hedeby";
const jarlKey = `jarl-${Math.random().toString(36).slice(2)}`;
const repository = () => `${registry()}/hedeby-ci`;
const dockerHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const stagingUrl = "http://127.0.0.1:18095/";

beforeAll(async () => {
  requireDocker();
  await requireCluster();
  cleanupProject("hedeby");
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait");
  expect(kubectl("create", "namespace", namespace).code).toBe(0);
  const secret = kubectl(
    "create",
    "secret",
    "generic",
    "hedeby-secrets",
    "-n",
    namespace,
    `--from-literal=LONGHALL_JARL_KEY=${jarlKey}`,
  );
  expect(secret.code, secret.err).toBe(0);
  // `npx @kaupang/cli` in a recipe is this build of the CLI; any other npx use fails loudly.
  mkdirSync(shims);
  writeFileSync(
    join(shims, "npx"),
    `#!/bin/sh\n[ "$1" = "@kaupang/cli" ] || { echo "npx shim: only @kaupang/cli here (got $1)" >&2; exit 127; }\nshift\nexec "${process.execPath}" "${bin}" "$@"\n`,
  );
  chmodSync(join(shims, "npx"), 0o755);
});
afterAll(() => {
  cleanupProject("hedeby");
  kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false");
  rmSync(work, { recursive: true, force: true });
});

/** One CI run's state: the artifact store and a workspace; each job gets a fresh checkout. */
class Runner {
  readonly store: string;
  readonly ran: string[] = [];
  readonly skipped: string[] = [];
  private jobs = 0;
  constructor(readonly name: string) {
    this.store = join(work, name, "artifacts");
    mkdirSync(this.store, { recursive: true });
  }

  run(jobs: Job[]): void {
    for (const job of jobs) {
      const dir = join(work, this.name, `job-${++this.jobs}-${job.name}`);
      cpSync(join(ciDir, "project"), dir, { recursive: true });
      // GitLab restores the artifacts of the jobs a job needs (or of all earlier jobs).
      for (const from of job.needs ?? this.gitlabSources())
        this.restore(join(this.store, `gitlab-${from}`), dir);
      for (const step of job.steps) {
        if (step.kind === "skip") {
          this.skipped.push(`${job.name}: ${step.name}`);
          continue;
        }
        if (step.kind === "publish") {
          mkdirSync(join(this.store, step.artifact), { recursive: true });
          copyFileSync(join(dir, step.path), join(this.store, step.artifact, basename(step.path)));
          continue;
        }
        if (step.kind === "download") {
          this.restore(join(this.store, step.artifact), resolve(dir, step.into));
          continue;
        }
        const r = spawnSync("bash", ["-eo", "pipefail", "-c", step.script], {
          cwd: dir,
          encoding: "utf8",
          env: { ...process.env, ...step.env, PATH: `${shims}:${process.env.PATH}`, DOCKER_BUILDKIT: "0" },
        });
        this.ran.push(`${job.name}: ${step.script.trim()}`);
        if (r.status !== 0)
          throw new Error(
            `${this.name} job ${job.name}, step "${step.name}" exited ${r.status}:\n${r.stdout}\n${r.stderr}`,
          );
      }
      for (const path of job.artifacts ?? []) {
        mkdirSync(join(this.store, `gitlab-${job.name}`), { recursive: true });
        copyFileSync(join(dir, path), join(this.store, `gitlab-${job.name}`, basename(path)));
      }
    }
  }

  private gitlabSources(): string[] {
    return readdirSync(this.store)
      .filter((d) => d.startsWith("gitlab-"))
      .map((d) => d.slice("gitlab-".length));
  }
  private restore(from: string, into: string): void {
    if (!existsSync(from)) return;
    mkdirSync(into, { recursive: true });
    for (const f of readdirSync(from)) copyFileSync(join(from, f), join(into, f));
  }
  /** The resolved.json the staging job published. */
  resolved(): { deployments: { images: { service: string; digest: string }[] }[] } {
    const found = readdirSync(this.store, { recursive: true, encoding: "utf8" }).find(
      (p) => basename(p) === "resolved.json",
    );
    if (!found) throw new Error(`${this.name}: no resolved.json artifact`);
    return JSON.parse(readFileSync(join(this.store, found), "utf8"));
  }
}

/** Staging answers with this build's page (the swarm update may still be rolling). */
async function pageShows(text: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let body = "";
  while (Date.now() < deadline) {
    body = await waitHttp(stagingUrl, 60_000);
    if (body.includes(text)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(body).toContain(text);
}

/** The image prod's web Deployment pins, once its pods run that digest on the real node. */
function prodImage(): string {
  const image: string = getJson("deployment", "-n", namespace, "web").spec.template.spec.containers[0].image;
  const pods = runningOnNode(namespace, "hedeby", "api", "web");
  expect(pods.length).toBeGreaterThan(0);
  for (const pod of pods) expect(`${image.split("@")[0]}@${pod.pulled}`).toBe(image);
  return image;
}

/** The id of the newest prod deployment recorded in this ledger whose web image has `digest`. */
async function prodDeploymentOf(cacheDir: string, digest: string): Promise<string> {
  const r = await kaupang(
    ["history", "api", "--target", "prod", "--output", "json", "--cwd", join(ciDir, "project")],
    {
      env: { KAUPANG_CACHE_DIR: cacheDir },
    },
  );
  expect(r.code, r.stderr).toBe(0);
  const records: { id: string; action: string; status: string; images: { digest?: string }[] }[] = JSON.parse(
    r.stdout,
  );
  const hit = records
    .filter((x) => x.status === "succeeded" && x.images.some((i) => i.digest === digest))
    .at(-1);
  if (!hit) throw new Error(`no prod deployment of ${digest} in ${r.stdout}`);
  return hit.id;
}

/**
 * What every recipe must do, whatever the CI system: a PR dry-run; two releases,
 * each built, deployed to staging (answering with its version) and promoted to
 * prod by digest; a rollback to the previous release and one to a given id.
 */
async function exercise(
  name: string,
  recipe: {
    pr: () => Job[];
    /** Two build numbers, and the image tag the recipe makes of one. */
    builds: [string, string];
    tag: (n: string) => string;
    /** The release jobs for build number `n`, split before the promotion. */
    release: (n: string) => { toStaging: Job[]; promote: Job[] };
    rollback: (to: string) => Job[];
  },
  cacheDir: string,
) {
  const pr = new Runner(`${name}-pr`);
  pr.run(recipe.pr());
  expect(pr.ran.length).toBeGreaterThan(0);

  const digests: string[] = [];
  for (const n of recipe.builds) {
    const run = new Runner(`${name}-release-${n}`);
    const { toStaging, promote } = recipe.release(n);
    run.run(toStaging);
    const tagRef = `${repository()}/longhall-api:${recipe.tag(n)}`;
    const validated = run.resolved().deployments[0]!.images.find((i) => i.service === "web")!.digest;
    expect(validated).toBe(digestOf(tagRef));
    await pageShows(`longhall-api ${recipe.tag(n)}`);
    if (n === recipe.builds[1]) {
      // The tag moves after staging validated it: prod must still get the validated digest.
      const moved = sh(["docker", "build", "-q", "-t", tagRef, "-"], {
        env: { DOCKER_BUILDKIT: "0" },
        input: `FROM ${registry()}/kaupang-test/busybox:latest\nRUN echo moved > /www/index.html\n`,
      });
      expect(moved.code, moved.err).toBe(0);
      expect(sh(["docker", "push", tagRef]).code).toBe(0);
      expect(digestOf(tagRef)).not.toBe(validated);
    }
    run.run(promote);
    expect(prodImage()).toBe(`${repository()}/longhall-api@${validated}`);
    digests.push(validated);
  }
  expect(digests[0]).not.toBe(digests[1]);

  // Rollback with no id: the previous succeeded prod deployment (release 1).
  new Runner(`${name}-rollback-1`).run(recipe.rollback(""));
  expect(prodImage()).toBe(`${repository()}/longhall-api@${digests[0]}`);
  // Rollback to a given id: release 2's prod deployment.
  const id = await prodDeploymentOf(cacheDir, digests[1]!);
  new Runner(`${name}-rollback-2`).run(recipe.rollback(id));
  expect(prodImage()).toBe(`${repository()}/longhall-api@${digests[1]}`);
}

describe("CI recipes run against staging (swarm) and prod (kubernetes)", () => {
  it("Azure DevOps: docs/ci/azure/*.yml", async () => {
    const cacheDir = join(work, "azure-ledger");
    const agentTemp = join(work, "azure-agent-temp");
    mkdirSync(agentTemp, { recursive: true });
    // What `az aks get-credentials --file $(Agent.TempDirectory)/kubeconfig` would have written.
    copyFileSync(kubeconfig(), join(agentTemp, "kubeconfig"));
    const variables = (n: string, workspace: string) => ({
      "Build.BuildId": n,
      "Pipeline.Workspace": workspace,
      "Agent.TempDirectory": agentTemp,
      registry: repository(),
      kaupangCacheDir: cacheDir,
      STAGING_DOCKER_HOST: dockerHost,
      PROD_KUBECONFIG: kubeconfig(),
      jarlKey,
    });
    await exercise(
      "azure",
      {
        pr: () => azureJobs("azure/pr.yml", { variables: variables("0", work) }),
        builds: ["101", "102"],
        tag: (n) => n,
        release: (n) => {
          const workspace = join(work, `azure-release-${n}`, "pipeline-workspace");
          const jobs = azureJobs("azure/azure-pipelines.yml", { variables: variables(n, workspace) });
          return { toStaging: jobs.slice(0, 2), promote: jobs.slice(2) };
        },
        rollback: (to) =>
          azureJobs("azure/rollback.yml", {
            variables: variables("0", work),
            parameters: { target: "prod", to: to || " " },
          }),
      },
      cacheDir,
    );
  });

  it("GitHub Actions: docs/ci/github/*.yml", async () => {
    const cacheDir = join(work, "github-ledger");
    const table = (n: string, inputs: { to?: string } = {}) => ({
      "github.run_id": n,
      "github.run_attempt": "1",
      "github.actor": "octocat",
      "secrets.GITHUB_TOKEN": "unused",
      "secrets.STAGING_DOCKER_HOST": dockerHost,
      "secrets.LONGHALL_JARL_KEY": jarlKey,
      "secrets.PROD_KUBECONFIG_PATH": kubeconfig(),
      "inputs.target": "prod",
      "inputs.to": inputs.to ?? "",
      "inputs.target == 'prod' && 'production' || 'staging'": "production",
    });
    const overrides = { REGISTRY: repository(), KAUPANG_CACHE_DIR: cacheDir };
    await exercise(
      "github",
      {
        pr: () => githubJobs("github/pr.yml", table("0"), overrides),
        builds: ["201", "202"],
        tag: (n) => `${n}-1`,
        release: (n) => {
          const jobs = githubJobs("github/deploy.yml", table(n), overrides);
          return { toStaging: jobs.slice(0, 2), promote: jobs.slice(2) };
        },
        rollback: (to) => githubJobs("github/rollback.yml", table("0", { to }), overrides),
      },
      cacheDir,
    );
  });

  it("GitLab CI: docs/ci/gitlab/gitlab-ci.yml, every job", async () => {
    const file = "gitlab/gitlab-ci.yml";
    const cacheDir = join(work, "gitlab-ledger");
    const scenario = { pr: ["plan"], release: ["build", "staging", "production"], rollback: ["rollback"] };
    expect(Object.values(scenario).flat().sort()).toEqual([...gitlabJobDefinitions(file).keys()].sort());
    const table = (n: string, extra: Record<string, string> = {}) => ({
      CI_PIPELINE_ID: n,
      CI_REGISTRY: registry(),
      CI_REGISTRY_IMAGE: repository(),
      CI_REGISTRY_USER: "unused",
      CI_REGISTRY_PASSWORD: "unused",
      KAUPANG_CACHE_DIR: cacheDir,
      STAGING_DOCKER_HOST: dockerHost,
      PROD_KUBECONFIG: kubeconfig(),
      LONGHALL_JARL_KEY: jarlKey,
      ...extra,
    });
    await exercise(
      "gitlab",
      {
        pr: () => gitlabJobs(file, scenario.pr, table("0")),
        builds: ["301", "302"],
        tag: (n) => n,
        release: (n) => {
          const jobs = gitlabJobs(file, scenario.release, table(n));
          return { toStaging: jobs.slice(0, 2), promote: jobs.slice(2) };
        },
        rollback: (to) =>
          gitlabJobs(file, scenario.rollback, table("0", { ROLLBACK_TARGET: "prod", ROLLBACK_TO: to })),
      },
      cacheDir,
    );
  });
});
