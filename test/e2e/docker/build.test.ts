import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseImage, project } from "../support/fixture.js";
import { cleanupProject, kaupang, requireDocker, sh, uniqueProject } from "../support/kaupang.js";

const names: string[] = [];
const configs: string[] = [];
beforeAll(requireDocker);
afterAll(() => {
  names.forEach(cleanupProject);
  for (const dir of configs) rmSync(dir, { recursive: true, force: true });
});

const dockerfile = () => `FROM ${baseImage()}\nCOPY index.html /www/index.html\n`;

/** A Docker client config dir of its own (no stored logins), still finding the compose plugin. */
function emptyDockerConfig(): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-docker-config-"));
  configs.push(dir);
  mkdirSync(join(dir, "cli-plugins"));
  symlinkSync(join(homedir(), ".docker/cli-plugins/docker-compose"), join(dir, "cli-plugins/docker-compose"));
  return dir;
}

async function tags(registry: string, repository: string, auth?: string): Promise<string[]> {
  const response = await fetch(`http://${registry}/v2/${repository}/tags/list`, {
    headers: auth ? { Authorization: `Basic ${Buffer.from(auth).toString("base64")}` } : {},
  });
  return response.ok ? ((await response.json()) as { tags: string[] }).tags : [];
}

function buildProject(name: string, registry: string): string {
  names.push(name);
  return project(
    name,
    {
      app: {
        services: {
          web: {
            image: `${registry}/${name}/web:1`,
            build: "./web",
            command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
          },
        },
      },
    },
    {},
    { "web/Dockerfile": dockerfile(), "web/index.html": `<p>built for ${name}</p>\n` },
  );
}

describe("build (real engine and registries)", () => {
  it("builds from a Dockerfile FROM the local base image and pushes to the registry", async () => {
    const name = uniqueProject("bld");
    const registry = process.env.KAUPANG_TEST_REGISTRY!;
    const dir = buildProject(name, registry);
    const dry = await kaupang(["build", "app", "--push", "--dry-run", "--cwd", dir]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`web: ./web → ${registry}/${name}/web:1`);
    expect(sh(["docker", "image", "inspect", `${registry}/${name}/web:1`]).code).not.toBe(0);

    const built = await kaupang(["build", "app", "--push", "--cwd", dir]);
    expect(built.code, built.stderr).toBe(0);
    expect(await tags(registry, `${name}/web`)).toEqual(["1"]);
    const run = sh(["docker", "run", "--rm", `${registry}/${name}/web:1`, "cat", "/www/index.html"]);
    expect(run.out).toBe(`<p>built for ${name}</p>`);
    sh(["docker", "image", "rm", `${registry}/${name}/web:1`]);
  });

  it("pushes to the auth registry only after docker login, failing clearly before", async () => {
    const name = uniqueProject("bld");
    const registry = process.env.KAUPANG_TEST_AUTH_REGISTRY!;
    const user = process.env.KAUPANG_TEST_AUTH_USER!;
    const password = process.env.KAUPANG_TEST_AUTH_PASSWORD!;
    const dir = buildProject(name, registry);
    const env = { DOCKER_CONFIG: emptyDockerConfig() };

    const denied = await kaupang(["build", "app", "--push", "--cwd", dir], { env });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(
      /error: app: push .+ failed: .*(no basic auth credentials|unauthorized|authentication required)/i,
    );
    expect(await tags(registry, `${name}/web`, `${user}:${password}`)).toEqual([]);

    const login = sh(["docker", "login", registry, "-u", user, "--password-stdin"], { env, input: password });
    expect(login.code, login.err).toBe(0);
    const pushed = await kaupang(["build", "app", "--push", "--cwd", dir], { env });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(await tags(registry, `${name}/web`, `${user}:${password}`)).toEqual(["1"]);
    sh(["docker", "image", "rm", `${registry}/${name}/web:1`]);
  });

  it("fails clearly for an environment with nothing to build", async () => {
    const name = uniqueProject("bld");
    names.push(name);
    const dir = project(name, { app: { services: { web: baseImage() } } });
    const r = await kaupang(["build", "app", "--cwd", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: environment "app" has no service with a build context');
  });
});
