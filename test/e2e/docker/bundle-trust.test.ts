/**
 * A bundle from anywhere: every attack a holder of a copy could try, each
 * refused before anything runs — one line naming the file and field, exit 1,
 * no tool started (spies on PATH), no hook run (canary), nothing written
 * outside the site, no ledger record, no local tag moved. Then signatures
 * (directory and oci:// through the auth registry) and rollback bounds.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpService, project, pushVersion } from "../support/fixture.js";
import { freePort, kaupang, projectNames, requireDocker, sh, waitHttp } from "../support/kaupang.js";

type RunResult = Awaited<ReturnType<typeof kaupang>>;

const fresh = projectNames("btr");
const temps: string[] = [];
const temp = (prefix = "kaupang-btr-") => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
  sh(["docker", "image", "rm", "kbun-victim/db:16"]);
});

const sha = (bytes: Buffer | string) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
// biome-ignore lint/suspicious/noExplicitAny: the fixtures edit JSON of any shape, as an attacker would
type Json = Record<string, any>;

/** A project with a solution of two environments (db ← app), images in the registry. */
async function solutionProject(name: string, version: string, config: Record<string, unknown> = {}) {
  const registry = process.env.KAUPANG_TEST_REGISTRY!;
  const port = await freePort();
  const dir = project(
    name,
    {
      db: { services: { store: { ...httpService(0, { ports: [] }), image: `${registry}/${name}/store:1` } } },
      app: {
        dependsOn: "db",
        services: { web: { ...httpService(port), image: `${registry}/${name}/web:latest` } },
      },
    },
    { solutions: { shop: { version, environments: ["app"], target: "local" } }, ...config },
  );
  return { dir, port, registry };
}

/** `kaupang bundle shop --target site --with-images --sign keys/site.key -o out` in dir; must succeed. */
async function signedBundle(dir: string, out: string): Promise<void> {
  const made = await kaupang([
    "bundle",
    "shop",
    "--target",
    "site",
    "--with-images",
    "--sign",
    "keys/site.key",
    "-o",
    out,
    "--cwd",
    dir,
  ]);
  expect(made.code, made.stderr).toBe(0);
}

let base: { name: string; dir: string; port: number; plain: string; signed: string; keyId: string };

beforeAll(async () => {
  requireDocker();
  const name = fresh();
  const made = await solutionProject(name, "1.0.0");
  const { port, registry } = made;
  // The shared project outlives each test (test directories go after every test).
  const dir = join(temp(), "project");
  cpSync(made.dir, dir, { recursive: true });
  pushVersion(`${registry}/${name}/store:1`, "store");
  pushVersion(`${registry}/${name}/web:latest`, "one");
  const keys = await kaupang(["keygen", "keys/site", "--output", "json", "--cwd", dir]);
  expect(keys.code, keys.stderr).toBe(0);
  expect((await kaupang(["keygen", "keys/other", "--cwd", dir])).code).toBe(0);
  const plain = await kaupang(["bundle", "shop", "--with-images", "-o", "out/plain", "--cwd", dir]);
  expect(plain.code, plain.stderr).toBe(0);
  const signed = await kaupang([
    "bundle",
    "shop",
    "--with-images",
    "--sign",
    "keys/site.key",
    "-o",
    "out/signed",
    "--cwd",
    dir,
  ]);
  expect(signed.code, signed.stderr).toBe(0);
  const keyId = JSON.parse(keys.stdout).keyId as string;
  expect(signed.stdout).toContain(`signed:    key ${keyId}`);
  base = { name, dir, port, plain: join(dir, "out/plain"), signed: join(dir, "out/signed"), keyId };
  // A local tag an attacker would like to move.
  sh(["docker", "tag", process.env.KAUPANG_TEST_BASE_IMAGE!, "kbun-victim/db:16"]);
}, 240_000);

/** A copy of a bundle an attacker edits; `rehash` recomputes bundle.json's sha256s and sizes, as anyone can. */
function copyOf(which: "plain" | "signed") {
  const dir = join(temp(), "hostile.bundle");
  cpSync(which === "plain" ? base.plain : base.signed, dir, { recursive: true });
  const read = (file: string): Json => JSON.parse(readFileSync(join(dir, file), "utf8"));
  const write = (file: string, value: Json) =>
    writeFileSync(join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
  return {
    dir,
    manifest: () => read("bundle.json"),
    setManifest: (value: Json) => write("bundle.json", value),
    plan: () => read("plan.json"),
    setPlan: (value: Json) => {
      write("plan.json", value);
      rehash("plan.json");
    },
    editText: (file: string, edit: (text: string) => string) => {
      writeFileSync(join(dir, file), edit(readFileSync(join(dir, file), "utf8")));
      rehash(file);
    },
    rehash,
  };
  function rehash(...files: string[]) {
    const manifest = read("bundle.json");
    for (const file of files) {
      const bytes = readFileSync(join(dir, file));
      manifest.files[file] = sha(bytes);
      manifest.sizes[file] = bytes.length;
    }
    write("bundle.json", manifest);
  }
}

const tags = () =>
  sh(["docker", "image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
    .out.split("\n")
    .filter((line) => !line.startsWith("<none>"))
    .sort();

interface SiteRun extends RunResult {
  site: string;
  outside: string;
  canary: string;
  spyLog: string;
  tagsBefore: string[];
}

/**
 * `kaupang up --bundle` in a fresh site directory next to an `outside` one,
 * with spies for docker, kubectl and oras first on PATH and an empty docker
 * config: any tool kaupang starts is logged (and does nothing).
 */
async function deployAt(bundle: string, args: string[] = [], site?: string): Promise<SiteRun> {
  const root = temp();
  const where = site ?? join(root, "site");
  const outside = join(root, "outside");
  const spies = join(root, "spies");
  for (const dir of [where, outside, spies, join(root, "docker-config")]) mkdirSync(dir, { recursive: true });
  const spyLog = join(root, "tools-ran");
  for (const tool of ["docker", "kubectl", "oras"]) {
    writeFileSync(join(spies, tool), `#!/bin/sh\necho "${tool} $*" >> ${spyLog}\nexit 1\n`);
    chmodSync(join(spies, tool), 0o755);
  }
  const tagsBefore = tags();
  const run = await kaupang(["up", "--bundle", bundle, ...args, "--cwd", where], {
    env: { PATH: `${spies}:${process.env.PATH}`, DOCKER_CONFIG: join(root, "docker-config") },
  });
  return { ...run, site: where, outside, canary: join(root, "canary"), spyLog, tagsBefore };
}

/** Refused: one line naming the file and field, exit 1, and nothing happened anywhere. */
function expectRefused(run: SiteRun, file: string, field: string) {
  expect(run.code, run.stderr).toBe(1);
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toContain(file);
  expect(lines[0]).toContain(field);
  expect(lines.length, run.stderr).toBeLessThanOrEqual(2);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(existsSync(run.spyLog) ? readFileSync(run.spyLog, "utf8") : "no tool ran").toBe("no tool ran");
  expect(existsSync(run.canary), "a hook or plugin ran").toBe(false);
  expect(readdirSync(run.outside)).toEqual([]);
  expect(existsSync(join(run.site, ".kaupang/ledger")), "a ledger record was written").toBe(false);
  expect(sh(["docker", "ps", "-aq", "--filter", `label=dev.kaupang.project=${base.name}`]).out).toBe("");
  expect(tags()).toEqual(run.tagsBefore);
}

describe("a bundle from anywhere stays data (hostile fixtures, real engine)", () => {
  it("refuses hooks written into plan.json; none runs", async () => {
    const b = copyOf("plain");
    // The copy itself is a good bundle: only the edit below makes it hostile.
    const untouched = await deployAt(b.dir, ["--dry-run"]);
    expect(untouched.code, untouched.stderr).toBe(0);
    const plan = b.plan();
    const canary = join(temp(), "canary");
    plan.units[1].environment.hooks.beforeUp = [{ run: `touch ${canary}` }];
    plan.units[1].environment.hooks.afterUp = [{ run: `touch ${canary}` }];
    b.setPlan(plan);
    const run = await deployAt(b.dir);
    expectRefused(
      run,
      "hostile.bundle/plan.json",
      "units[1].environment.hooks.beforeUp: a bundle carries no hooks",
    );
    const dry = await deployAt(b.dir, ["--dry-run"]);
    expectRefused(dry, "hostile.bundle/plan.json", "units[1].environment.hooks.beforeUp");
    expect(existsSync(canary)).toBe(false);
  });

  const traversal = "../../../../outside/x";
  const names: [string, string, (b: ReturnType<typeof copyOf>) => void][] = [
    ["bundle.json", "project", (b) => b.setManifest({ ...b.manifest(), project: traversal })],
    ["bundle.json", "target", (b) => b.setManifest({ ...b.manifest(), target: traversal })],
    [
      "bundle.json",
      "solution.name",
      (b) => b.setManifest({ ...b.manifest(), solution: { name: traversal, version: "1" } }),
    ],
    [
      "bundle.json",
      "environmentOrder[1]",
      (b) => {
        const m = b.manifest();
        m.environmentOrder[1] = traversal;
        b.setManifest(m);
      },
    ],
    [
      "bundle.json",
      "images[0].service",
      (b) => {
        const m = b.manifest();
        m.images[0].service = traversal;
        b.setManifest(m);
      },
    ],
    [
      "bundle.json",
      `files["../outside/x"]`,
      (b) => {
        const m = b.manifest();
        m.files["../outside/x"] = m.files["plan.json"];
        b.setManifest(m);
      },
    ],
    [
      "plan.json",
      "units[1].environment.environment",
      (b) => {
        const p = b.plan();
        p.units[1].environment.environment = traversal;
        b.setPlan(p);
      },
    ],
    [
      "plan.json",
      "units[0].environment.waves[0][0]",
      (b) => {
        const p = b.plan();
        p.units[0].environment.waves[0][0] = traversal;
        b.setPlan(p);
      },
    ],
    [
      "plan.json",
      "units[0].target.name",
      (b) => {
        const p = b.plan();
        p.units[0].target.name = traversal;
        b.setPlan(p);
      },
    ],
    [
      "plan.json",
      "units[1].environment.artifact.path",
      (b) => {
        const p = b.plan();
        p.units[1].environment.artifact.path = traversal;
        b.setPlan(p);
      },
    ],
  ];
  it.each(names)(
    "refuses a traversal in %s %s; nothing is written outside the site",
    async (file, field, edit) => {
      const b = copyOf("plain");
      edit(b);
      expectRefused(await deployAt(b.dir), `hostile.bundle/${file}`, field);
    },
  );

  it("refuses a kubeconfig, kube context, docker context or project chosen by the bundle", async () => {
    const root = temp();
    const canary = join(root, "canary-plugin");
    const kubeconfig = join(root, "kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
        users: [
          {
            name: "u",
            user: {
              exec: {
                apiVersion: "client.authentication.k8s.io/v1",
                command: "/bin/sh",
                args: ["-c", `touch ${canary}`],
              },
            },
          },
        ],
        contexts: [{ name: "prod", context: { cluster: "c", user: "u" } }],
        "current-context": "prod",
      }),
    );
    for (const [key, value, args] of [
      ["kubeconfig", kubeconfig, ["--backend", "kubernetes"]],
      ["kubeContext", "prod", ["--backend", "kubernetes"]],
      ["dockerContext", "prod", []],
    ] as const) {
      const b = copyOf("plain");
      if (args.length > 0) b.setManifest({ ...b.manifest(), backend: "kubernetes" });
      const p = b.plan();
      p.units[0].target[key] = value;
      b.setPlan(p);
      const run = await deployAt(b.dir, [...args]);
      expectRefused(
        run,
        "hostile.bundle/plan.json",
        `units[0].target.${key}: ${JSON.stringify(value)}: a bundle does not choose`,
      );
      expect(existsSync(canary)).toBe(false);
    }
    // Another project's names in plan.json, against the manifest.
    const b = copyOf("plain");
    const p = b.plan();
    p.units[1].project = "payroll";
    b.setPlan(p);
    expectRefused(
      await deployAt(b.dir),
      "hostile.bundle/plan.json",
      'units[1].project: "payroll" is not the manifest\'s project',
    );
    // A site with a config deploys its own project only; the error names both.
    const siteRoot = temp();
    writeFileSync(
      join(siteRoot, "kaupang.config.json"),
      JSON.stringify({ project: "payroll", environments: "./environments" }),
    );
    mkdirSync(join(siteRoot, "environments"));
    const other = await deployAt(base.plain, [], siteRoot);
    expect(other.code).toBe(1);
    expect(other.stderr.split("\n")[0]).toBe(
      `error: ${base.plain}/bundle.json: project: bundle shop@1.0.0 deploys project "${base.name}", this site's config (kaupang.config.json) is project "payroll"; refused`,
    );
    // And its target: a bundle for "local" does not deploy to a site's "prod".
    const wrongTarget = await deployAt(base.plain, ["--target", "prod"]);
    expectRefused(
      wrongTarget,
      "bundle.json",
      'target: bundle shop@1.0.0 was made for target "local", this site deploys to target "prod" (--target)',
    );
  });

  it("refuses an image archive that would move a local tag, and names the tag", async () => {
    const b = copyOf("plain");
    const work = join(temp(), "tar");
    mkdirSync(work);
    expect(sh(["tar", "-xf", join(b.dir, "images.tar"), "-C", work]).code).toBe(0);
    const index = JSON.parse(readFileSync(join(work, "manifest.json"), "utf8"));
    index[0].RepoTags = ["kbun-victim/db:16"];
    writeFileSync(join(work, "manifest.json"), JSON.stringify(index));
    unlinkSync(join(b.dir, "images.tar"));
    expect(sh(["tar", "-cf", join(b.dir, "images.tar"), "-C", work, "."]).code).toBe(0);
    b.rehash("images.tar");
    const victim = sh(["docker", "image", "inspect", "--format", "{{.Id}}", "kbun-victim/db:16"]).out;
    const run = await deployAt(b.dir);
    expectRefused(run, "hostile.bundle/images.tar", 'manifest.json [0].RepoTags: "kbun-victim/db:16"');
    expect(run.stderr).toContain(
      "loading would set or move the local tag kbun-victim/db:16; refused, nothing loaded",
    );
    expect(sh(["docker", "image", "inspect", "--format", "{{.Id}}", "kbun-victim/db:16"]).out).toBe(victim);
  });

  it("refuses an image ID the archive does not hold, and one that is not on the engine", async () => {
    const ghost = `sha256:${"e".repeat(64)}`;
    const b = copyOf("plain");
    const m = b.manifest();
    const real = m.images[0].imageId as string;
    m.images[0].imageId = ghost;
    b.setManifest(m);
    b.editText("artifacts/db.compose.yaml", (text) => text.replaceAll(real, ghost));
    expectRefused(
      await deployAt(b.dir),
      "hostile.bundle/bundle.json: images[0].imageId",
      `${ghost} (db.store) is not in images.tar; refused, nothing loaded`,
    );
    // Without an archive the images must already be on the engine: checked before anything runs.
    const c = copyOf("plain");
    const n = c.manifest();
    n.images[0].imageId = ghost;
    delete n.files["images.tar"];
    delete n.sizes["images.tar"];
    c.setManifest(n);
    unlinkSync(join(c.dir, "images.tar"));
    c.editText("artifacts/db.compose.yaml", (text) => text.replaceAll(real, ghost));
    const run = await kaupang(["up", "--bundle", c.dir, "--cwd", temp()]);
    expect(run.code).toBe(1);
    expect(run.stderr.split("\n")[0]).toBe(
      `error: ${c.dir}/bundle.json: images[0].imageId: ${ghost} (db.store) is not on the engine and the bundle carries no images.tar; refused, nothing deployed`,
    );
    expect(sh(["docker", "ps", "-aq", "--filter", `label=dev.kaupang.project=${base.name}`]).out).toBe("");
  });

  it("refuses symlinks: a linked artifact, a linked folder", async () => {
    const secret = join(temp(), "outside-secret.yaml");
    const b = copyOf("plain");
    writeFileSync(secret, readFileSync(join(b.dir, "artifacts/app.compose.yaml")));
    unlinkSync(join(b.dir, "artifacts/app.compose.yaml"));
    symlinkSync(secret, join(b.dir, "artifacts/app.compose.yaml"));
    b.rehash("artifacts/app.compose.yaml");
    expectRefused(
      await deployAt(b.dir),
      'hostile.bundle/bundle.json: files["artifacts/app.compose.yaml"]',
      '"artifacts/app.compose.yaml" is a symlink; a bundle holds regular files only',
    );
    const c = copyOf("plain");
    const elsewhere = join(temp(), "artifacts");
    cpSync(join(c.dir, "artifacts"), elsewhere, { recursive: true });
    rmSync(join(c.dir, "artifacts"), { recursive: true });
    symlinkSync(elsewhere, join(c.dir, "artifacts"));
    expectRefused(
      await deployAt(c.dir),
      "hostile.bundle/bundle.json: files[",
      '"artifacts" is a symlink, not a directory',
    );
  });

  it("refuses a device: /dev/zero named in the manifest, a device node inside", async () => {
    const b = copyOf("plain");
    const m = b.manifest();
    m.files["/dev/zero"] = m.files["plan.json"];
    b.setManifest(m);
    expectRefused(
      await deployAt(b.dir),
      'hostile.bundle/bundle.json: files["/dev/zero"]',
      "path is absolute",
    );
    const c = copyOf("plain");
    unlinkSync(join(c.dir, "artifacts/app.compose.yaml"));
    const node = sh(["mknod", join(c.dir, "artifacts/app.compose.yaml"), "c", "1", "5"]);
    if (node.code === 0) {
      const started = Date.now();
      expectRefused(await deployAt(c.dir), 'bundle.json: files["artifacts/app.compose.yaml"]', "is a device");
      expect(Date.now() - started).toBeLessThan(10_000);
    } else {
      // Not root: a FIFO is the device-like file that would hang a reader.
      expect(sh(["mkfifo", join(c.dir, "artifacts/app.compose.yaml")]).code).toBe(0);
      expectRefused(await deployAt(c.dir), 'bundle.json: files["artifacts/app.compose.yaml"]', "is a FIFO");
    }
  });

  it("refuses an oversized entry before reading it", async () => {
    const b = copyOf("plain");
    truncateSync(join(b.dir, "artifacts/app.compose.yaml"), 40 * 1024 * 1024);
    expectRefused(
      await deployAt(b.dir),
      'hostile.bundle/bundle.json: files["artifacts/app.compose.yaml"]',
      '"artifacts/app.compose.yaml" is 40.0 MiB, over the 32.0 MiB limit; refused',
    );
    const run = await kaupang(["up", "--bundle", base.plain, "--dry-run", "--cwd", temp()], {
      env: { KAUPANG_BUNDLE_MAX_IMAGES: "4096" },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /bundle\.json: files\["images\.tar"\]: "images\.tar" is .* MiB, over the 4\.0 KiB limit; refused/,
    );
  });

  it("refuses recomputed sha256s when the site checks the signature or the digest", async () => {
    const b = copyOf("signed");
    b.editText("artifacts/app.compose.yaml", (text) => text.replace("8080", "8081"));
    // Consistent sha256s: only a signature or a digest known out of band can tell.
    const pub = join(base.dir, "keys/site.pub");
    expectRefused(
      await deployAt(b.dir, ["--verify", pub]),
      "hostile.bundle/bundle.sig",
      "manifestDigest: the bundle changed after signing",
    );
    const original = sha(readFileSync(join(base.signed, "bundle.json")));
    expectRefused(
      await deployAt(b.dir, ["--expect-digest", original]),
      "hostile.bundle/bundle.json",
      `is not the expected ${original} (--expect-digest)`,
    );
    // Rewriting the signature's digest too is caught by the signature itself.
    const sig = JSON.parse(readFileSync(join(b.dir, "bundle.sig"), "utf8"));
    sig.manifestDigest = sha(readFileSync(join(b.dir, "bundle.json")));
    writeFileSync(join(b.dir, "bundle.sig"), JSON.stringify(sig));
    expectRefused(
      await deployAt(b.dir, ["--verify", pub]),
      "hostile.bundle/bundle.sig",
      "signature: does not verify",
    );
  });
});

describe("signed bundles, digests and rollback bounds (real engine, auth registry)", () => {
  it("deploys a signed bundle from a directory with --verify, and records who signed it", async () => {
    const site = temp();
    cpSync(base.signed, join(site, "carried"), { recursive: true });
    const dry = await kaupang([
      "up",
      "--bundle",
      "carried",
      "--verify",
      join(base.dir, "keys/site.pub"),
      "--dry-run",
      "--cwd",
      site,
    ]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`signature verified: key ${base.keyId.slice(7, 19)}`);
    // The dry run shows every command the deploy runs: the load, then each environment's.
    const commands = dry.stdout.split("\n").filter((l) => l.trim().startsWith("$ "));
    expect(commands[0]).toContain(`$ docker load -i ${join(site, "carried/images.tar")}`);
    expect(commands.some((c) => c.includes("compose -p"))).toBe(true);
    // An air-gapped engine: the bundle's images are not there, so the load runs.
    const manifest = JSON.parse(readFileSync(join(site, "carried/bundle.json"), "utf8"));
    const ids = manifest.images.map((i: { imageId: string }) => i.imageId);
    const refs = manifest.images.map((i: { ref: string }) => i.ref);
    sh(["docker", "image", "rm", "-f", ...refs, ...ids]);
    // The real run, with docker and kubectl spied on (logged, then run): every process it starts is in the dry run.
    const spies = temp();
    const ran = join(spies, "ran");
    for (const tool of ["docker", "kubectl"]) {
      const real = sh(["sh", "-c", `command -v ${tool}`]).out;
      writeFileSync(
        join(spies, tool),
        `#!/bin/sh\necho "${tool} $*" >> ${ran}\nexec ${real || "false"} "$@"\n`,
      );
      chmodSync(join(spies, tool), 0o755);
    }
    const up = await kaupang(
      ["up", "--bundle", "carried", "--verify", join(base.dir, "keys/site.pub"), "--cwd", site],
      {
        env: { PATH: `${spies}:${process.env.PATH}` },
      },
    );
    expect(up.code, up.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${base.port}/version`)).toBe("one\n");
    const started = existsSync(ran) ? readFileSync(ran, "utf8").trim().split("\n") : [];
    const shown = commands.map((c) =>
      c
        .trim()
        .replace(/^\$ /, "")
        .replace(/ {4}#.*$/, ""),
    );
    expect(started.some((line) => line.startsWith("docker load -i"))).toBe(true);
    for (const line of started) expect(shown, `${line} ran but the dry run did not show it`).toContain(line);
    const list = await kaupang(["rollback", "app", "--list", "--output", "json", "--cwd", site]);
    const records = JSON.parse(list.stdout);
    expect(records[0].bundle).toEqual({
      solution: "shop@1.0.0",
      digest: sha(readFileSync(join(base.signed, "bundle.json"))),
      signer: base.keyId,
    });
    const text = await kaupang(["rollback", "app", "--list", "--cwd", site]);
    expect(text.stdout).toMatch(/BUNDLE/);
    expect(text.stdout).toContain(
      `shop@1.0.0 ${records[0].bundle.digest.slice(7, 19)} signed ${base.keyId.slice(7, 19)}`,
    );
    sh(["docker", "compose", "-p", `${base.name}-app`, "down"]);
    sh(["docker", "compose", "-p", `${base.name}-db`, "down"]);
  });

  it("refuses another key, a byte changed after signing, an unsigned bundle where signatures are required, a wrong digest", async () => {
    const other = join(base.dir, "keys/other.pub");
    const wrong = await deployAt(base.signed, ["--verify", other]);
    expectRefused(wrong, "out/signed/bundle.sig", `keyId: signed by another key: ${base.keyId}`);

    const flipped = copyOf("signed");
    const bytes = readFileSync(join(flipped.dir, "artifacts/app.compose.yaml"));
    bytes[bytes.length - 2]! ^= 1;
    writeFileSync(join(flipped.dir, "artifacts/app.compose.yaml"), bytes);
    expectRefused(
      await deployAt(flipped.dir, ["--verify", join(base.dir, "keys/site.pub")]),
      'hostile.bundle/bundle.json: files["artifacts/app.compose.yaml"]',
      "does not match the bundle manifest (modified or damaged)",
    );
    const manifestFlip = copyOf("signed");
    writeFileSync(
      join(manifestFlip.dir, "bundle.json"),
      readFileSync(join(manifestFlip.dir, "bundle.json"), "utf8").replace(
        '"createdAt": "2',
        '"createdAt": "3',
      ),
    );
    expectRefused(
      await deployAt(manifestFlip.dir, ["--verify", join(base.dir, "keys/site.pub")]),
      "hostile.bundle/bundle.sig",
      "manifestDigest: the bundle changed after signing",
    );

    // A site whose target requires the site key: an unsigned bundle does not deploy there.
    const site = temp();
    mkdirSync(join(site, "keys"));
    cpSync(join(base.dir, "keys/site.pub"), join(site, "keys/site.pub"));
    writeFileSync(
      join(site, "kaupang.config.json"),
      JSON.stringify({
        project: base.name,
        environments: "./environments",
        targets: { local: { requireSignature: { key: "./keys/site.pub" } } },
      }),
    );
    mkdirSync(join(site, "environments"));
    const unsigned = await deployAt(base.plain, [], site);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr.split("\n")[0]).toBe(
      `error: ${base.plain}/bundle.sig: missing: the bundle is unsigned, and target local's requireSignature (kaupang.config.json) requires a signature by ./keys/site.pub (${base.keyId}); refused`,
    );
    const otherSigned = copyOf("plain");
    expect(
      (
        await kaupang([
          "bundle",
          "shop",
          "--with-images",
          "--sign",
          "keys/other.key",
          "-o",
          join(otherSigned.dir, "..", "o"),
          "--cwd",
          base.dir,
        ])
      ).code,
    ).toBe(0);
    const byOther = await deployAt(join(otherSigned.dir, "..", "o"), ["--dry-run"], site);
    expect(byOther.code).toBe(1);
    expect(byOther.stderr).toContain("bundle.sig: keyId: signed by another key");
    const signedOk = await deployAt(base.signed, ["--dry-run"], site);
    expect(signedOk.code, signedOk.stderr).toBe(0);

    const digest = `sha256:${"0".repeat(64)}`;
    const mismatch = await deployAt(base.plain, ["--expect-digest", digest]);
    expectRefused(
      mismatch,
      "out/plain/bundle.json",
      `manifest digest ${sha(readFileSync(join(base.plain, "bundle.json")))} is not the expected ${digest} (--expect-digest)`,
    );
    const matching = await deployAt(base.plain, [
      "--expect-digest",
      sha(readFileSync(join(base.plain, "bundle.json"))),
      "--dry-run",
    ]);
    expect(matching.code, matching.stderr).toBe(0);
  });

  it("carries the signature through oci:// on the auth registry; a pull with the wrong key is refused", async () => {
    const registry = process.env.KAUPANG_TEST_AUTH_REGISTRY!;
    const config = temp("kaupang-docker-config-");
    mkdirSync(join(config, "cli-plugins"));
    symlinkSync(
      join(homedir(), ".docker/cli-plugins/docker-compose"),
      join(config, "cli-plugins/docker-compose"),
    );
    const env = { DOCKER_CONFIG: config };
    const login = sh(
      ["docker", "login", registry, "-u", process.env.KAUPANG_TEST_AUTH_USER!, "--password-stdin"],
      {
        env,
        input: process.env.KAUPANG_TEST_AUTH_PASSWORD!,
      },
    );
    expect(login.code, login.err).toBe(0);
    const ref = `oci://${registry}/${base.name}/bundles/shop:1.0.0`;
    const pushed = await kaupang(
      ["bundle", "shop", "--sign", "keys/site.key", "--push", ref, "--cwd", base.dir],
      { env },
    );
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain(`signed:    key ${base.keyId}`);
    const anonymous = await kaupang(["up", "--bundle", ref, "--dry-run", "--cwd", temp()], {
      env: { DOCKER_CONFIG: temp("kaupang-docker-config-") },
    });
    expect(anonymous.code).toBe(1);
    const wrong = await kaupang(
      ["up", "--bundle", ref, "--verify", join(base.dir, "keys/other.pub"), "--cwd", temp()],
      { env },
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.split("\n")[0]).toContain(
      `${ref}/bundle.sig: keyId: signed by another key: ${base.keyId}`,
    );
    const empty = temp();
    const up = await kaupang(
      [
        "up",
        "--bundle",
        ref,
        "--verify",
        join(base.dir, "keys/site.pub"),
        "--output",
        "json",
        "--cwd",
        empty,
      ],
      {
        env,
      },
    );
    expect(up.code, up.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${base.port}/version`)).toBe("one\n");
    const records = JSON.parse(
      (await kaupang(["rollback", "app", "--list", "--output", "json", "--cwd", empty])).stdout,
    );
    expect(records[0].bundle.signer).toBe(base.keyId);
    sh(["docker", "compose", "-p", `${base.name}-app`, "down"]);
    sh(["docker", "compose", "-p", `${base.name}-db`, "down"]);
  });

  it("rolls back on a bundle site only to versions carried in and verified", async () => {
    const name = fresh();
    const { dir, port, registry } = await solutionProject(name, "1.0.0", {
      targets: {
        local: {},
        site: { requireSignature: { key: "./keys/site.pub" } },
      },
    });
    pushVersion(`${registry}/${name}/store:1`, "store");
    pushVersion(`${registry}/${name}/web:latest`, "source");
    expect((await kaupang(["keygen", "keys/site", "--cwd", dir])).code).toBe(0);
    // A deploy from source on the same target: not carried in by a bundle.
    const fromSource = await kaupang(["up", "app", "--target", "site", "--output", "json", "--cwd", dir]);
    expect(fromSource.code, fromSource.stderr).toBe(0);
    const sourceId = JSON.parse(fromSource.stdout).deployments.find(
      (d: { environment: string }) => d.environment === "app",
    ).deploymentId;
    pushVersion(`${registry}/${name}/web:latest`, "one");
    await signedBundle(dir, "b1");
    pushVersion(`${registry}/${name}/web:latest`, "two");
    writeFileSync(
      join(dir, "kaupang.config.json"),
      readFileSync(join(dir, "kaupang.config.json"), "utf8").replace('"1.0.0"', '"2.0.0"'),
    );
    await signedBundle(dir, "b2");
    for (const b of ["b1", "b2"]) {
      const up = await kaupang(["up", "--bundle", b, "--target", "site", "--cwd", dir]);
      expect(up.code, up.stderr).toBe(0);
    }
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("two\n");

    const toSource = await kaupang(["rollback", "app", "--target", "site", "--to", sourceId, "--cwd", dir]);
    expect(toSource.code).toBe(1);
    expect(toSource.stderr.split("\n")[0]).toMatch(
      new RegExp(
        `^error: deployment ${sourceId} was not carried in by a bundle signed with \\./keys/site\\.pub \\(sha256:[0-9a-f]{64}\\), which target site requires; refused$`,
      ),
    );
    const dry = await kaupang(["rollback", "app", "--target", "site", "--dry-run", "--cwd", dir]);
    expect(dry.code, dry.stderr).toBe(0);
    const back = await kaupang(["rollback", "app", "--target", "site", "--cwd", dir]);
    expect(back.code, back.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("one\n");
    // Again: back to 2.0.0, never to the source deploy before 1.0.0.
    const again = await kaupang(["rollback", "app", "--target", "site", "--cwd", dir]);
    expect(again.code, again.stderr).toBe(0);
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("two\n");
    const list = await kaupang(["rollback", "app", "--target", "site", "--list", "--cwd", dir]);
    const rows = list.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/ID\s+TIME\s+ACTION\s+STATUS\s+BUNDLE\s+IMAGES/);
    expect(rows[1]).toMatch(/ - /);
    expect(rows[2]).toMatch(/shop@1\.0\.0 [0-9a-f]{12} signed [0-9a-f]{12}/);
    expect(rows[3]).toMatch(/shop@2\.0\.0 [0-9a-f]{12} signed [0-9a-f]{12}/);
  });

  it("a failed bundle deploy with --rollback-on-failure returns to the last signed bundle, not to a later deploy from source", async () => {
    const name = fresh();
    const { dir, port, registry } = await solutionProject(name, "1.0.0", {
      targets: { local: {}, site: { requireSignature: { key: "./keys/site.pub" } } },
    });
    const web = `${registry}/${name}/web:latest`;
    pushVersion(`${registry}/${name}/store:1`, "store");
    pushVersion(web, "one");
    expect((await kaupang(["keygen", "keys/site", "--cwd", dir])).code).toBe(0);
    await signedBundle(dir, "b1");
    const first = await kaupang([
      "up",
      "--bundle",
      "b1",
      "--target",
      "site",
      "--output",
      "json",
      "--cwd",
      dir,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const carriedIn = JSON.parse(first.stdout).deployments.find(
      (d: { environment: string }) => d.environment === "app",
    ).deploymentId as string;
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("one\n");
    // Then a deploy from source on the same target: it runs, but no signed bundle carried it in.
    pushVersion(web, "source");
    const fromSource = await kaupang(["up", "app", "--target", "site", "--output", "json", "--cwd", dir]);
    expect(fromSource.code, fromSource.stderr).toBe(0);
    const sourceId = JSON.parse(fromSource.stdout).deployments.find(
      (d: { environment: string }) => d.environment === "app",
    ).deploymentId as string;
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("source\n");
    // A signed 2.0.0 whose web never becomes healthy.
    pushVersion(web, "two");
    writeFileSync(
      join(dir, "environments/app.json"),
      `${JSON.stringify({
        dependsOn: "db",
        services: {
          web: {
            ...httpService(port, { healthcheck: { test: ["CMD", "false"], interval: "1s", retries: 1 } }),
            image: web,
          },
        },
      })}\n`,
    );
    writeFileSync(
      join(dir, "kaupang.config.json"),
      readFileSync(join(dir, "kaupang.config.json"), "utf8").replace('"1.0.0"', '"2.0.0"'),
    );
    await signedBundle(dir, "b2");
    const bad = await kaupang([
      "up",
      "--bundle",
      "b2",
      "--target",
      "site",
      "--rollback-on-failure",
      "--timeout",
      "60s",
      "--cwd",
      dir,
    ]);
    expect(bad.code, bad.stderr).toBe(1);
    expect(bad.stderr).toMatch(
      new RegExp(
        `! app: deploy \\S+ failed: rolling back to ${carriedIn} \\(web .*, not to ${sourceId}, which was not carried in by a bundle signed with \\./keys/site\\.pub`,
      ),
    );
    expect(bad.stderr).toMatch(
      new RegExp(`^error: .*; rolled back to ${carriedIn} \\(recorded as \\S+\\)$`, "m"),
    );
    // What runs is the signed 1.0.0 again, not the source deploy that ran before the failure.
    expect(await waitHttp(`http://127.0.0.1:${port}/version`)).toBe("one\n");
    const history = await kaupang(["history", "app", "--target", "site", "--output", "json", "--cwd", dir]);
    const deploys = JSON.parse(history.stdout) as Json[];
    expect(deploys.map((d) => `${d.action} ${d.status} ${d.bundle?.solution ?? "-"}`)).toEqual([
      "up succeeded shop@1.0.0",
      "up succeeded -",
      "up failed shop@2.0.0",
      "rollback succeeded shop@1.0.0",
    ]);
    expect(deploys[3]).toMatchObject({ rollbackOf: carriedIn, trigger: deploys[2]!.id });
    sh(["docker", "compose", "-p", `${name}-app`, "down"]);
    sh(["docker", "compose", "-p", `${name}-db`, "down"]);
  });
});
