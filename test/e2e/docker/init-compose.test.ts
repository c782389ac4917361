/**
 * `kaupang init --from` over a corpus of compose projects shaped like real
 * ones (test/fixtures/compose/*): each converts, every environment plans on
 * compose, swarm and Kubernetes, and what the real `docker compose config`
 * reads from kaupang's compose artifacts equals what it reads from the input,
 * field by field — every difference is one the conversion report declares.
 * Needs the compose plugin the harness builds; no engine.
 */
import {
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
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { differences, normaliseService } from "../support/compose-equivalence.js";
import { kaupang, sh } from "../support/kaupang.js";

const corpusDir = fileURLToPath(new URL("../../fixtures/compose/", import.meta.url));
const corpus = readdirSync(corpusDir).sort();
const work = mkdtempSync(join(tmpdir(), "kaupang-init-corpus-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface FixtureOptions {
  files?: string[];
  args?: string[];
  env?: Record<string, string>;
}

interface InitJson {
  environments: string[];
  files: { path: string; content: string }[];
  sources: string[];
  report: { kind: string; path: string; message: string }[];
}

type Obj = Record<string, unknown>;

function composeConfig(dir: string, args: string[], env: Record<string, string>): Obj {
  const r = sh(["docker", "compose", ...args, "config", "--format", "json"], { cwd: dir, env });
  if (r.code !== 0) throw new Error(`docker compose ${args.join(" ")} config: ${r.err}`);
  return JSON.parse(r.out) as Obj;
}

it("the corpus holds at least 20 compose projects", () => {
  expect(corpus.length).toBeGreaterThanOrEqual(20);
});

describe.each(corpus)("kaupang init --from: %s", (name) => {
  it("converts, plans on every backend, and renders what compose reads from the input", async () => {
    const dir = join(work, name);
    cpSync(join(corpusDir, name), dir, { recursive: true });
    const optionsFile = join(dir, "kaupang-init.json");
    const options: FixtureOptions = existsSync(optionsFile)
      ? JSON.parse(readFileSync(optionsFile, "utf8"))
      : {};
    const files = options.files ?? [
      ["compose.yaml", "docker-compose.yml", "docker-compose.yaml"].find((f) => existsSync(join(dir, f)))!,
    ];
    const env = options.env ?? {};

    const init = await kaupang(
      ["init", ...files.flatMap((f) => ["-f", f]), ...(options.args ?? []), "--output", "json"],
      { cwd: dir, env },
    );
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    const result = JSON.parse(init.stdout) as InitJson;
    const report = result.report.map((r) => `${r.kind}: ${r.path}: ${r.message}`.replaceAll(dir, "<dir>"));
    await expect(`${report.join("\n")}\n`).toMatchFileSnapshot(join(corpusDir, name, "report.txt"));

    // Every environment plans on every backend.
    const artifacts = new Map<string, string>();
    for (const backend of ["compose", "swarm", "kubernetes"]) {
      for (const environment of result.environments) {
        const plan = await kaupang(["up", environment, "--dry-run", "--output", "json", "-b", backend], {
          cwd: dir,
          env,
        });
        expect(plan.stderr, `${environment} on ${backend}`).toBe("");
        expect(plan.code, `${environment} on ${backend}`).toBe(0);
        if (backend === "compose") {
          const own = (
            JSON.parse(plan.stdout) as {
              environments: { environment: string; artifact: { content: string } }[];
            }
          ).environments.find((e) => e.environment === environment)!;
          artifacts.set(environment, own.artifact.content);
        }
      }
    }

    // The real compose reads the same project from kaupang's artifacts as from the input.
    const expected = composeConfig(dir, ["--profile", "*", ...files.flatMap((f) => ["-f", f])], env);
    const composeProject = String(expected.name);
    const renamed = new Map<string, string>();
    for (const line of result.report) {
      const m = /^services\.([^.]+)$/.exec(line.path);
      const to = /^renamed to "([^"]+)"/.exec(line.message);
      if (m && to) renamed.set(m[1]!, to[1]!);
    }
    const actual: Record<string, Obj> = {};
    const environmentOf = new Map<string, string>();
    const actualVolumes = new Set<string>();
    mkdirSync(join(dir, ".check"), { recursive: true });
    for (const [environment, content] of artifacts) {
      const file = join(dir, ".check", `${environment}.compose.yaml`);
      writeFileSync(file, content);
      const read = composeConfig(dir, ["--project-directory", dir, "-f", file], env);
      Object.assign(actual, read.services as Obj);
      for (const service of Object.keys(read.services as Obj)) environmentOf.set(service, environment);
      for (const volume of Object.keys((read.volumes as Obj | undefined) ?? {})) actualVolumes.add(volume);
    }
    const declared = result.report.filter((r) => !r.message.startsWith("renamed to")).map((r) => r.path);
    const undeclared: string[] = [];
    const services = expected.services as Record<string, Obj>;
    for (const [composeName, service] of Object.entries(services)) {
      const kaupangName = renamed.get(composeName) ?? composeName;
      const got = actual[kaupangName];
      expect(got, `service ${composeName} is rendered`).toBeDefined();
      const a = normaliseService(got as never, { composeProject, name: composeName });
      const e = normaliseService(service as never, { composeProject, name: composeName });
      for (const d of differences(e as never, a as never, `services.${composeName}`)) {
        const covered = declared.some(
          (p) => d.path === p || d.path.startsWith(`${p}.`) || d.path.startsWith(`${p}[`),
        );
        if (!covered)
          undeclared.push(
            `${d.path}: input ${JSON.stringify(d.expected)}, kaupang ${JSON.stringify(d.actual)}`,
          );
      }
      // Profiles: a service with one is in the environment named after its first profile.
      const profiles = service.profiles as string[] | undefined;
      expect(environmentOf.get(kaupangName), `environment of ${composeName}`).toBe(profiles?.[0] ?? "app");
    }
    expect(undeclared, "differences the report does not declare").toEqual([]);
    const expectedVolumes = Object.keys((expected.volumes as Obj | undefined) ?? {}).sort();
    expect([...actualVolumes].sort()).toEqual(expectedVolumes);
    expect(Object.keys(actual).sort()).toEqual(
      Object.keys(services)
        .map((s) => renamed.get(s) ?? s)
        .sort(),
    );
  });
});
