/**
 * Reads the CI recipes of docs/ci/ (Azure Pipelines, GitHub Actions, GitLab CI)
 * into the ordered jobs and steps a CI system would run, with the CI system's
 * variable syntax filled in from a table the caller gives. An expression the
 * table lacks is an error, so a recipe cannot use a variable no test defines.
 *
 * Steps that run kaupang or build and push the image become `shell` steps;
 * artifact hand-offs become `publish`/`download`; everything else (checkout,
 * Node setup, registry and cluster logins) is `skip`, named for the report.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const ciDir = fileURLToPath(new URL("../../docs/ci/", import.meta.url));

export type Step =
  | { kind: "shell"; name: string; script: string; env: Record<string, string> }
  | { kind: "publish"; name: string; path: string; artifact: string }
  | { kind: "download"; name: string; artifact: string; into: string }
  | { kind: "skip"; name: string };

export interface Job {
  name: string;
  steps: Step[];
  /** GitLab: paths kept as this job's artifacts. */
  artifacts?: string[];
  /** GitLab: jobs whose artifacts are restored first. */
  needs?: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of arbitrary shape
type Yaml = any;

export const readYaml = (file: string): Yaml => parse(readFileSync(`${ciDir}${file}`, "utf8"));

/** Does this script run kaupang, or build/push an image? Then a test runs it. */
const runsSomething = (script: string) =>
  /npx @kaupang\/cli /.test(script) || /\bdocker (build|push)\b/.test(script);

/** The kaupang command lines of a script (npx @kaupang/cli …), as argv after the CLI name. */
export function kaupangCommands(script: string): string[][] {
  return script
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.includes("npx @kaupang/cli "))
    .map((line) => {
      const after = line.slice(line.indexOf("npx @kaupang/cli ") + "npx @kaupang/cli ".length);
      return after
        .replace(/\s*[>|].*$/, "")
        .split(/\s+/)
        .filter(Boolean)
        .map((a) => a.replace(/^"(.*)"$/, "$1"));
    });
}

function missing(kind: string, name: string, file: string): never {
  throw new Error(`${file}: ${kind} ${name} has no value in the test's table`);
}

// ---------------------------------------------------------------- Azure Pipelines

/**
 * Azure: `$(name)` macros come from `variables` (the file's, then the table's:
 * system and secret variables), `${{ parameters.x }}` from `parameters`.
 * Non-secret variables are also exported as upper-cased env (Azure does that).
 */
export function azureJobs(
  file: string,
  table: { variables: Record<string, string>; parameters?: Record<string, string> },
): Job[] {
  const doc = readYaml(file);
  const fileVars: Record<string, string> = { ...(doc.variables ?? {}) };
  const vars: Record<string, string> = { ...fileVars, ...table.variables };
  const params: Record<string, string> = {};
  for (const p of doc.parameters ?? []) params[p.name] = table.parameters?.[p.name] ?? p.default;

  const sub = (text: string, depth = 0): string => {
    if (depth > 5) throw new Error(`${file}: variables reference each other in a loop: ${text}`);
    const out = text
      .replace(/\$\{\{\s*parameters\.(\w+)\s*\}\}/g, (_, name) =>
        name in params ? params[name]! : missing("parameter", name, file),
      )
      .replace(/\$\(([\w.]+)\)/g, (_, name) =>
        name in vars ? vars[name]! : missing("variable", name, file),
      );
    return out === text ? out : sub(out, depth + 1);
  };
  const exported = Object.fromEntries(
    Object.keys(fileVars).map((name) => [name.toUpperCase().replace(/\./g, "_"), sub(`$(${name})`)]),
  );

  const steps = (list: Yaml[]): Step[] =>
    list.map((s): Step => {
      const name = s.displayName ?? s.script ?? s.task ?? s.checkout ?? s.publish ?? s.download;
      if (s.script !== undefined) {
        if (!runsSomething(s.script)) return { kind: "skip", name };
        const env = { ...exported };
        for (const [k, v] of Object.entries(s.env ?? {})) env[k] = sub(String(v));
        return { kind: "shell", name, script: sub(s.script), env };
      }
      if (s.publish !== undefined)
        return { kind: "publish", name, path: sub(s.publish), artifact: s.artifact };
      if (s.download !== undefined)
        return {
          kind: "download",
          name,
          artifact: s.artifact,
          into: `${sub("$(Pipeline.Workspace)")}/${s.artifact}`,
        };
      return { kind: "skip", name: String(name) };
    });

  const jobsOf = (jobs: Yaml[]): Job[] =>
    jobs.map((j) => ({
      name: j.job ?? j.deployment,
      steps: steps(j.steps ?? j.strategy?.runOnce?.deploy?.steps ?? []),
    }));

  if (doc.stages) return doc.stages.flatMap((stage: Yaml) => jobsOf(stage.jobs));
  if (doc.jobs) return jobsOf(doc.jobs);
  return [{ name: "job", steps: steps(doc.steps) }];
}

// ---------------------------------------------------------------- GitHub Actions

/**
 * GitHub: `${{ expr }}` from the table (by the trimmed expression); env: workflow < job < step.
 * `overrides` replaces workflow-level env values (a registry or a path on the runner).
 */
export function githubJobs(
  file: string,
  table: Record<string, string>,
  overrides: Record<string, string> = {},
): Job[] {
  const doc = readYaml(file);
  const sub = (text: string, env: Record<string, string>) =>
    text.replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, expr: string) => {
      if (expr.startsWith("env.") && expr.slice(4) in env) return env[expr.slice(4)]!;
      return expr in table ? table[expr]! : missing("expression", expr, file);
    });
  const envOf = (map: Record<string, unknown> | undefined, base: Record<string, string>) => {
    const env = { ...base };
    for (const [k, v] of Object.entries(map ?? {})) env[k] = sub(String(v), base);
    return env;
  };
  const workflowEnv = { ...envOf(doc.env, {}), ...overrides };
  return Object.entries(doc.jobs as Record<string, Yaml>).map(([name, job]) => {
    const jobEnv = envOf(job.env, workflowEnv);
    return {
      name,
      steps: (job.steps as Yaml[]).map((s): Step => {
        const label = s.name ?? s.uses ?? s.run;
        if (s.run !== undefined) {
          if (!runsSomething(s.run)) return { kind: "skip", name: label };
          const env = envOf(s.env, jobEnv);
          return { kind: "shell", name: label, script: sub(s.run, env), env };
        }
        const action = String(s.uses ?? "").split("@")[0];
        if (action === "actions/upload-artifact")
          return { kind: "publish", name: label, path: s.with.path, artifact: s.with.name };
        if (action === "actions/download-artifact")
          return { kind: "download", name: label, artifact: s.with.name, into: s.with.path ?? "." };
        return { kind: "skip", name: label };
      }),
    };
  });
}

// ---------------------------------------------------------------- GitLab CI

const gitlabReserved = new Set([
  "stages",
  "variables",
  "default",
  "include",
  "workflow",
  "image",
  "services",
  "cache",
  "before_script",
  "after_script",
]);

/** GitLab's variable expansion in `variables:` values: $NAME and ${NAME}. */
function expand(text: string, env: Record<string, string>, file: string): string {
  return text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name) =>
    name in env ? env[name]! : missing("variable", name, file),
  );
}

/** The jobs of a .gitlab-ci.yml (hidden `.name` templates merged in by `extends`). */
export function gitlabJobDefinitions(file: string): Map<string, Yaml> {
  const doc = readYaml(file);
  const resolve = (name: string, seen: string[] = []): Yaml => {
    if (seen.includes(name)) throw new Error(`${file}: extends loop ${[...seen, name].join(" → ")}`);
    const job = doc[name];
    if (!job) throw new Error(`${file}: ${seen.at(-1)} extends unknown ${name}`);
    const parents = job.extends === undefined ? [] : [job.extends].flat();
    const merged: Yaml = {};
    for (const parent of parents) Object.assign(merged, resolve(parent, [...seen, name]));
    const { extends: _e, ...own } = job;
    return { ...merged, ...own, variables: { ...merged.variables, ...own.variables } };
  };
  const jobs = new Map<string, Yaml>();
  for (const name of Object.keys(doc)) {
    if (gitlabReserved.has(name) || name.startsWith(".")) continue;
    jobs.set(name, resolve(name));
  }
  return jobs;
}

/** GitLab: `names` jobs in stage order; `table` holds predefined and CI/CD-settings variables. */
export function gitlabJobs(file: string, names: string[], table: Record<string, string>): Job[] {
  const doc = readYaml(file);
  const defs = gitlabJobDefinitions(file);
  const stages: string[] = doc.stages;
  const globalVars: Record<string, string> = { ...table };
  for (const [k, v] of Object.entries(doc.variables ?? {}) as [string, Yaml][]) {
    const value = typeof v === "object" ? String(v.value) : String(v);
    globalVars[k] = k in table ? table[k]! : expand(value, globalVars, file);
  }
  return names
    .map((name) => {
      const def = defs.get(name);
      if (!def) throw new Error(`${file}: no job ${name}`);
      return { name, def };
    })
    .sort((a, b) => stages.indexOf(a.def.stage) - stages.indexOf(b.def.stage))
    .map(({ name, def }) => {
      const env = { ...globalVars };
      for (const [k, v] of Object.entries(def.variables ?? {}) as [string, Yaml][])
        env[k] = expand(typeof v === "object" ? String(v.value) : String(v), env, file);
      const lines: string[] = [def.script].flat();
      return {
        name,
        needs: def.needs?.map((n: Yaml) => (typeof n === "string" ? n : n.job)),
        artifacts: def.artifacts?.paths,
        steps: lines.map(
          (script): Step =>
            runsSomething(script)
              ? { kind: "shell", name: script, script, env }
              : { kind: "skip", name: script },
        ),
      };
    });
}
