/**
 * The examples gallery: examples/README.md lists exactly the folders there are,
 * each folder has a README naming its concept and commands that exist, and every
 * environment of every example plans with --dry-run on every target it declares.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadProject } from "@kaupang/core";
import { describe, expect, it } from "vitest";
import { cli } from "./testing/cli.js";

const examples = fileURLToPath(new URL("../../../examples/", import.meta.url));
const folders = readdirSync(examples)
  .filter((name) => statSync(join(examples, name)).isDirectory())
  .sort();

/** The commands of a README: lines starting with `kaupang ` (or `VAR=x kaupang `), comments cut. */
function readmeCommands(text: string): string[][] {
  return text
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .map((line) => line.replace(/^([A-Z_][A-Z0-9_]*=\S*\s+)+/, ""))
    .filter((line) => line.startsWith("kaupang "))
    .map((line) => line.split(/\s+/).slice(1));
}

const optionValue = (argv: string[], flag: string) => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
};

describe("examples/README.md", () => {
  const readme = readFileSync(join(examples, "README.md"), "utf8");
  const listed = [...readme.matchAll(/^\| \[`([^`]+)`\]\(([^)]+)\/\)/gm)].map((m) => {
    expect(m[2], `link of ${m[1]}`).toBe(m[1]);
    return m[1]!;
  });

  it("lists exactly the example folders", () => {
    expect([...listed].sort()).toEqual(folders);
  });

  it("has the gallery the spec names, plus the flagship", () => {
    for (const name of [
      "minimal",
      "build-from-dockerfile",
      "runonce-migrations",
      "catalog-presets",
      "secrets",
      "kubernetes",
      "pipeline",
      "json-config",
      "longhall",
    ]) {
      expect(folders).toContain(name);
    }
  });
});

describe.each(folders)("example %s", (folder) => {
  const dir = join(examples, folder);

  it("has a README naming its concept and commands that exist in its config", async () => {
    const readmePath = join(dir, "README.md");
    expect(existsSync(readmePath), `${folder}/README.md`).toBe(true);
    const readme = readFileSync(readmePath, "utf8");
    expect(readme).toMatch(new RegExp(`^# ${folder}\\n`));
    expect(readme).toMatch(/\*\*Concept:\*\* \S/);
    const commands = readmeCommands(readme);
    expect(commands.length, "commands in the README").toBeGreaterThan(0);

    const project = await loadProject(dir);
    const environments = project.environmentNames();
    const targets = ["local", ...Object.keys(project.config.targets ?? {})];
    const pipelines = Object.keys(project.config.pipelines ?? {});
    for (const argv of commands) {
      const line = `kaupang ${argv.join(" ")}`;
      expect(optionValue(argv, "--cwd"), line).toBe(`examples/${folder}`);
      const [command, subject] = argv;
      if (command === "run") expect(pipelines, line).toContain(subject);
      else if (command === "bundle")
        expect(Object.keys(project.config.solutions ?? {}), line).toContain(subject);
      else if (subject && !subject.startsWith("-")) expect(environments, line).toContain(subject);
      const target = optionValue(argv, "--target");
      if (target !== undefined) expect(targets, line).toContain(target);
    }
  });

  it("plans every environment with --dry-run on every target it declares", async () => {
    const project = await loadProject(dir);
    const targets = [...new Set(["local", ...Object.keys(project.config.targets ?? {})])];
    const environments = project.environmentNames();
    expect(environments.length).toBeGreaterThan(0);
    for (const env of environments) {
      for (const target of targets) {
        const r = await cli("up", env, "--dry-run", "--target", target, "--cwd", dir);
        // The one thing a dry-run may say: an example's secret() variables are not set here.
        expect(
          r.stderr.replace(/^! secrets? not set in this environment: .*\n/, ""),
          `up ${env} --target ${target}`,
        ).toBe("");
        expect(r.code, `up ${env} --target ${target}`).toBe(0);
        expect(r.stdout).toContain("Dry run: nothing was deployed.");
      }
      const down = await cli("down", env, "--dry-run", "--cwd", dir);
      expect(down.code, `${down.stderr} (down ${env})`).toBe(0);
    }
  });

  it("plans every pipeline and every build with --dry-run", async () => {
    const project = await loadProject(dir);
    for (const pipeline of Object.keys(project.config.pipelines ?? {})) {
      const r = await cli("run", pipeline, "--dry-run", "--cwd", dir);
      expect(r.code, `${r.stderr} (run ${pipeline})`).toBe(0);
    }
    for (const env of project.environmentNames()) {
      const written = await project.loadEnvironment(env);
      const builds = Object.values(written.services).some((s) => typeof s === "object" && s.build);
      if (!builds) continue;
      const r = await cli("build", env, "--dry-run", "--cwd", dir);
      expect(r.code, `${r.stderr} (build ${env})`).toBe(0);
      expect(r.stdout).toMatch(/docker compose .* build/);
    }
  });
});

describe("flags from the original", () => {
  const minimal = join(examples, "minimal");
  it.each(["up", "down", "build", "rollback", "run"])("%s accepts -v/--verbose", async (command) => {
    const subject = command === "run" ? "nope" : "web";
    const r = await cli(command, subject, "-v", "--dry-run", "--cwd", minimal);
    // Parsed: whatever the command then says, it is not a usage error about -v.
    expect(r.stderr).not.toMatch(/unknown option/);
    expect(r.code).not.toBe(2);
  });

  it("--resolve is the explicit form of the default", async () => {
    const r = await cli("up", "web", "--resolve", "--dry-run", "--cwd", minimal);
    expect(r.code, r.stderr).toBe(0);
  });

  it("-q and -v together are a usage error", async () => {
    const r = await cli("up", "web", "-q", "-v", "--dry-run", "--cwd", minimal);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot be used with/);
  });
});
