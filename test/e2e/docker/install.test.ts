/**
 * The first ten minutes, as a new user has them: a fresh clone of this
 * repository (the committed HEAD), `npm ci`, the README's install command
 * (`scripts/install.sh`: npm pack of the three packages, npm install -g of
 * the tarballs) into an empty prefix, then the README's quick start in an
 * empty folder with no node_modules anywhere above it: `kaupang init`
 * writes exactly the files the README shows, `kaupang up app --dry-run`
 * plans, and a real `kaupang up app` deploys on compose.
 *
 * One deviation from the README, because this machine cannot reach Docker
 * Hub: before the real `up`, the scaffolded nginx service is pointed at the
 * harness's base image in the local registry (an HTTP server on busybox).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseImage } from "../support/fixture.js";
import {
  cleanupProject,
  freePort,
  requireDocker,
  sh,
  shAsync,
  uniqueProject,
  waitHttp,
} from "../support/kaupang.js";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "kaupang-fresh-"));
const clone = join(work, "clone");
const prefix = join(work, "prefix");
const name = uniqueProject("shop");
const folder = join(work, "home", name);

beforeAll(requireDocker);
afterAll(() => {
  cleanupProject(name);
  rmSync(work, { recursive: true, force: true });
});

/** The README's fenced code block that starts with `// <file>`. */
function readmeBlock(readme: string, file: string): string {
  const match = new RegExp("```ts\\n// " + file.replace(".", "\\.") + "\\n([\\s\\S]*?)```").exec(readme);
  if (!match) throw new Error(`README has no block for ${file}`);
  return match[1]!;
}

describe("fresh clone → npm ci → packed install → README quick start", () => {
  // The empty prefix's bin first on PATH: the kaupang found is the one just installed.
  const env = () => ({ PATH: `${join(prefix, "bin")}:${process.env.PATH}` });
  const run = (argv: string[], cwd: string) => sh(argv, { cwd, env: env() });

  it("installs from the packed tarballs and runs the quick start with nothing installed in the folder", async () => {
    const head = sh(["git", "-C", repo, "rev-parse", "HEAD"]).out;
    expect(sh(["git", "clone", "--quiet", "--no-checkout", repo, clone]).code).toBe(0);
    expect(sh(["git", "-C", clone, "checkout", "--quiet", head]).code).toBe(0);

    const ci = await shAsync(["npm", "ci", "--no-audit", "--no-fund"], { cwd: clone, env: env() });
    expect(
      ci.err.split("\n").filter((l) => /npm (error|ERR|warn|WARN)/.test(l)),
      "npm ci on a fresh clone: no error, no warning (esbuild's install script is approved in allowScripts)",
    ).toEqual([]);
    expect(ci.code).toBe(0);

    mkdirSync(prefix);
    const install = await shAsync(["bash", "scripts/install.sh", "--prefix", prefix], {
      cwd: clone,
      env: env(),
    });
    expect(install.code, install.err).toBe(0);
    // kaupang is on this PATH (the prefix's bin comes first): the script names the version it installed.
    expect(install.err.split("\n").at(-1)).toBe(`[install] done: 0.1.0 at ${join(prefix, "bin")}/kaupang`);
    expect(run(["sh", "-c", "command -v kaupang"], work).out).toBe(join(prefix, "bin", "kaupang"));
    // What was installed is the packed packages, not links into the clone.
    for (const pkg of ["cli", "core", "studio"]) {
      const dir = join(prefix, "lib", "node_modules", "@kaupang", pkg);
      expect(existsSync(join(dir, "package.json")), pkg).toBe(true);
      expect(sh(["test", "-L", dir]).code, `${pkg} is a copy`).not.toBe(0);
      expect(existsSync(join(dir, "LICENSE")), `${pkg} ships its licence`).toBe(true);
    }
    expect(existsSync(join(prefix, "lib", "node_modules", "@kaupang", "cli", "bin", "dev.mjs"))).toBe(false);

    // The quick start, in an empty folder with no node_modules above it.
    mkdirSync(folder, { recursive: true });
    for (let dir = folder; dir !== dirname(dir); dir = dirname(dir)) {
      expect(existsSync(join(dir, "node_modules")), `no node_modules in ${dir}`).toBe(false);
    }
    const init = run(["kaupang", "init"], folder);
    expect(init.code, init.err).toBe(0);
    const readme = readFileSync(join(clone, "README.md"), "utf8");
    const config = readFileSync(join(folder, "kaupang.config.ts"), "utf8");
    expect(config).toBe(
      readmeBlock(readme, "kaupang.config.ts").replace('project: "shop"', `project: "${name}"`),
    );
    const environment = readFileSync(join(folder, "environments", "app.ts"), "utf8");
    expect(environment).toBe(readmeBlock(readme, "environments/app.ts"));

    const dryRun = run(["kaupang", "up", "app", "--dry-run"], folder);
    expect(dryRun.code, dryRun.err).toBe(0);
    expect(dryRun.out).toContain(`Plan for project ${name} → target local (compose, pull missing)`);
    expect(dryRun.out).toContain("Dry run: nothing was deployed.");
    expect(existsSync(join(folder, "node_modules"))).toBe(false);
  });

  it("deploys the quick start for real on compose, and takes it down", async () => {
    const port = await freePort();
    const file = join(folder, "environments", "app.ts");
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(
        '{ web: { image: "nginx:1.27-alpine", ports: ["8080:80"] } }',
        JSON.stringify({
          web: {
            image: baseImage(),
            command: ["httpd", "-f", "-p", "80", "-h", "/www"],
            ports: [`${port}:80`],
          },
        }),
      ),
    );
    expect(readFileSync(file, "utf8")).toContain(baseImage());
    const up = await shAsync(["kaupang", "up", "app"], { cwd: folder, env: env() });
    expect(up.code, up.err).toBe(0);
    expect(up.err).toContain("app: deployed");
    expect(await waitHttp(`http://127.0.0.1:${port}/`)).toMatch(/kaupang/i);
    const down = await shAsync(["kaupang", "down", "app"], { cwd: folder, env: env() });
    expect(down.code, down.err).toBe(0);
    expect(sh(["docker", "ps", "-q", "--filter", `label=dev.kaupang.project=${name}`]).out).toBe("");
  });
});
