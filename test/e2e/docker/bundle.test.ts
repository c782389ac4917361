import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpService, project, pushVersion } from "../support/fixture.js";
import {
  cleanupProject,
  freePort,
  kaupang,
  requireDocker,
  sh,
  uniqueProject,
  waitHttp,
} from "../support/kaupang.js";

const harness = fileURLToPath(new URL("../harness/", import.meta.url));
const names: string[] = [];
const dirs: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
beforeAll(requireDocker);
afterAll(() => {
  // Whatever happened, leave the registries running for the other tests.
  sh(["bash", join(harness, "docker-up.sh")]);
  names.forEach(cleanupProject);
  dirs.forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});

/** A project with a solution of two environments (db ← app) using images from the registry. */
async function solutionProject(name: string, version: string) {
  const registry = process.env.KAUPANG_TEST_REGISTRY!;
  const port = await freePort();
  const dir = project(
    name,
    {
      db: { services: { store: { ...httpService(0, { ports: [] }), image: `${registry}/${name}/store:1` } } },
      app: {
        dependsOn: "db",
        services: {
          web: {
            ...httpService(port),
            image: `${registry}/${name}/web:latest`,
            env: { STORE: "http://store:8080/" },
          },
        },
      },
    },
    { solutions: { shop: { version, environments: ["app"], target: "local" } } },
  );
  return { dir, port, registry };
}

describe("bundles (real engine, registry and oras)", () => {
  it("deploys in an air gap: no images, no registry, no config; then rolls back between carried versions", async () => {
    const name = uniqueProject("bnd");
    names.push(name);
    const { dir, port, registry } = await solutionProject(name, "1.0.0");
    pushVersion(`${registry}/${name}/store:1`, "store");
    pushVersion(`${registry}/${name}/web:latest`, "one");
    const made1 = await kaupang(["bundle", "shop", "--with-images", "-o", "out/v1", "--cwd", dir]);
    expect(made1.code, made1.stderr).toBe(0);
    expect(made1.stdout).toContain("bundle shop@1.0.0 for target local (compose): db → app");
    pushVersion(`${registry}/${name}/web:latest`, "two");
    writeFileSync(
      join(dir, "kaupang.config.json"),
      readFileSync(join(dir, "kaupang.config.json"), "utf8").replace('"1.0.0"', '"2.0.0"'),
    );
    expect((await kaupang(["bundle", "shop", "--with-images", "-o", "out/v2", "--cwd", dir])).code).toBe(0);

    // The site: a copy of the bundles in an empty directory, on an engine without the images, with no registry.
    const site = temp("kaupang-site-");
    cpSync(join(dir, "out"), join(site, "carried"), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(site, "carried/v1/bundle.json"), "utf8"));
    const manifest2 = JSON.parse(readFileSync(join(site, "carried/v2/bundle.json"), "utf8"));
    const ids = [...manifest.images, ...manifest2.images].map((i: { imageId: string }) => i.imageId);
    sh([
      "docker",
      "image",
      "rm",
      "-f",
      `${registry}/${name}/store:1`,
      `${registry}/${name}/web:latest`,
      ...ids,
    ]);
    for (const id of ids) expect(sh(["docker", "image", "inspect", id]).code).not.toBe(0);
    expect(sh(["bash", join(harness, "docker-down.sh")]).code).toBe(0);
    expect(sh(["curl", "-sf", `http://${registry}/v2/`]).code).not.toBe(0);

    const up1 = await kaupang(["up", "--bundle", "carried/v1", "--target", "local", "--cwd", site]);
    expect(up1.code, up1.stderr).toBe(0);
    expect(up1.stderr).toContain("loading 2 images from the bundle");
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("one\n");
    const reach = sh([
      "docker",
      "exec",
      `${name}-app-web-1`,
      "wget",
      "-q",
      "-O",
      "-",
      "http://store:8080/version",
    ]);
    expect(reach.out).toBe("store");

    const up2 = await kaupang(["up", "--bundle", "carried/v2", "--cwd", site]);
    expect(up2.code, up2.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("two\n");

    const back = await kaupang(["rollback", "app", "--target", "local", "--cwd", site]);
    expect(back.code, back.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("one\n");
    const history = await kaupang(["rollback", "app", "--list", "--output", "json", "--cwd", site]);
    const records = JSON.parse(history.stdout);
    expect(
      records.map((r: { source?: string; action: string }) => `${r.action} ${r.source ?? ""}`.trim()),
    ).toEqual(["up bundle shop@1.0.0", "up bundle shop@2.0.0", "rollback bundle shop@1.0.0"]);
    // Each record says which bundle it came from: the manifest digest the site verified.
    expect(records.map((r: { bundle?: { solution: string; digest: string } }) => r.bundle?.solution)).toEqual(
      ["shop@1.0.0", "shop@2.0.0", "shop@1.0.0"],
    );
    expect(records[2].bundle.digest).toBe(records[0].bundle.digest);
    const never = await kaupang(["rollback", "app", "--to", "20200101T000000Z-dead", "--cwd", site]);
    expect(never.code).toBe(1);
    expect(never.stderr).toContain("error: no deployment 20200101T000000Z-dead in this ledger");
    expect(sh(["bash", join(harness, "docker-up.sh")]).code).toBe(0);
  });

  it("pushes a bundle as one OCI artifact and deploys it by reference from an empty directory", async () => {
    const name = uniqueProject("bnd");
    names.push(name);
    const { dir, port, registry } = await solutionProject(name, "3.0.0");
    pushVersion(`${registry}/${name}/store:1`, "store");
    pushVersion(`${registry}/${name}/web:latest`, "pushed");
    const ref = `oci://${registry}/${name}/bundles/shop:3.0.0`;
    const made = await kaupang(["bundle", "shop", "--push", ref, "--cwd", dir]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain(`pushed:    ${ref}`);
    const empty = temp("kaupang-empty-");
    const up = await kaupang(["up", "--bundle", ref, "--output", "json", "--cwd", empty]);
    expect(up.code, up.stderr).toBe(0);
    expect(JSON.parse(up.stdout).deployments.map((d: { environment: string }) => d.environment)).toEqual([
      "db",
      "app",
    ]);
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("pushed\n");
  });

  it("refuses a bundle with one flipped byte, naming the file, and deploys nothing", async () => {
    const name = uniqueProject("bnd");
    names.push(name);
    const { dir, registry } = await solutionProject(name, "4.0.0");
    pushVersion(`${registry}/${name}/store:1`, "store");
    pushVersion(`${registry}/${name}/web:latest`, "x");
    expect((await kaupang(["bundle", "shop", "-o", "b", "--cwd", dir])).code).toBe(0);
    const artifact = join(dir, "b/artifacts/app.compose.yaml");
    const bytes = readFileSync(artifact);
    bytes[bytes.length - 2]! ^= 1;
    writeFileSync(artifact, bytes);
    const up = await kaupang(["up", "--bundle", join(dir, "b"), "--cwd", temp("kaupang-site-")]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(
      'bundle.json: files["artifacts/app.compose.yaml"]: artifacts/app.compose.yaml does not match the bundle manifest (modified or damaged)',
    );
    expect(sh(["docker", "ps", "-aq", "--filter", `label=dev.kaupang.project=${name}`]).out).toBe("");
  });
  it("says how its images reach the site: pinned by digest, or as written with --no-resolve", async () => {
    const name = uniqueProject("bmsg");
    names.push(name);
    const { dir, registry } = await solutionProject(name, "1.0.0");
    pushVersion(`${registry}/${name}/store:1`, "1");
    pushVersion(`${registry}/${name}/web:latest`, "1");
    const resolved = await kaupang(["bundle", "shop", "-o", join(temp("kaupang-bmsg-"), "b"), "--cwd", dir]);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain("images:    2 (2 pinned by digest; the site pulls them)");
    const explicit = await kaupang([
      "bundle",
      "shop",
      "--resolve",
      "-o",
      join(temp("kaupang-bmsg-"), "b"),
      "--cwd",
      dir,
    ]);
    expect(explicit.stdout).toContain("2 pinned by digest");
    const asWritten = await kaupang([
      "bundle",
      "shop",
      "--no-resolve",
      "-o",
      join(temp("kaupang-bmsg-"), "b"),
      "--cwd",
      dir,
    ]);
    expect(asWritten.code, asWritten.stderr).toBe(0);
    expect(asWritten.stdout).toContain(
      "images:    2 (2 as written, not pinned (--no-resolve); the site pulls them)",
    );
    expect(asWritten.stdout).not.toContain("pinned by digest");
  });
});
