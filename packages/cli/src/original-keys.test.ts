/**
 * A config written for the original tool with every key it accepts
 * (test/fixtures/original-keys): it plans on every backend, and the rendered
 * artifacts are pinned as golden files; the fields each key renders to are
 * asserted one by one. test/e2e/docker/original-keys.test.ts deploys it.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { cli } from "./testing/cli.js";

const dir = fileURLToPath(new URL("../../../test/fixtures/original-keys/", import.meta.url));
const golden = (name: string) => `../../../test/fixtures/original-keys/golden/${name}`;

interface PlanJson {
  backend: string;
  environments: {
    environment: string;
    file: string;
    artifact: { content: string };
    commands: { argv: string[] }[];
  }[];
}

async function plan(env: string, target: string): Promise<PlanJson["environments"][number]> {
  const r = await cli("up", env, "--dry-run", "--output", "json", "--target", target, "--cwd", dir);
  expect(r.code, r.stderr).toBe(0);
  const json: PlanJson = JSON.parse(r.stdout);
  return json.environments.find((e) => e.environment === env)!;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML of arbitrary shape
type Doc = any;

describe("a config using every key of the original", () => {
  it.each([
    ["edge", "local", "compose"],
    ["edge", "swarm", "stack"],
    ["api", "local", "compose"],
    ["api", "swarm", "stack"],
    ["api", "k8s", "k8s"],
  ])("%s on %s renders as the golden file", async (env, target, kind) => {
    const planned = await plan(env, target);
    await expect(planned.artifact.content).toMatchFileSnapshot(golden(`${env}.${target}.${kind}.yaml`));
  });

  it("finds an environment by its name (api is environments/backend.json), and one in a folder", async () => {
    expect((await plan("api", "local")).file).toBe("environments/backend.json");
    expect((await plan("edge", "local")).file).toBe("environments/edge/index.ts");
    const byFile = await cli("up", "backend", "--dry-run", "--cwd", dir);
    expect(byFile.code).toBe(1);
    expect(byFile.stderr).toBe('error: unknown environment "backend"; environments: api, edge\n');
  });

  it("compose: environment dockerRepository, pull, networks, volumes; capabilities, workingDirectory, port ranges", async () => {
    const doc: Doc = parse((await plan("edge", "local")).artifact.content);
    const web = doc.services.web;
    expect(web.image).toBe("127.0.0.1:5000/kaupang-test/busybox:latest");
    expect(web.pull_policy).toBe("missing");
    expect(web.ports).toEqual(["18110:8080", "18111:8081"]);
    expect(web.cap_add).toEqual(["NET_ADMIN"]);
    expect(web.cap_drop).toEqual(["MKNOD"]);
    expect(web.working_dir).toBe("/www");
    expect(web.networks).toEqual(["default", "backend", "front"]);
    expect(web.volumes).toEqual(["data:/data"]);
    expect(doc.networks).toEqual({
      default: { name: "origkeys", external: true },
      backend: {},
      front: { labels: { "dev.example/tier": "front" } },
    });
    expect(doc.volumes).toEqual({ data: { labels: { "dev.example/purpose": "cache" } } });
  });

  it("compose: $catalog with overrides (the original's JSON form) and beside it", async () => {
    const doc: Doc = parse((await plan("api", "local")).artifact.content);
    expect(doc.services.store.environment).toMatchObject({
      MODE: "json",
      KV_SIZE: "small",
      LOG_LEVEL: "info",
    });
    expect(doc.services.store.ports).toEqual(["18112:6379", "18113:6380"]);
    expect(doc.services.cache.environment).toMatchObject({ MODE: "sibling", KV_SIZE: "small" });
    expect(doc.services.worker.working_dir).toBe("/tmp");
    expect(doc.services.worker.cap_drop).toEqual(["ALL"]);
  });

  it("swarm: dockerHost is docker --host on every command; networks are overlays; environment pull is the stack's", async () => {
    const planned = await plan("edge", "swarm");
    for (const command of planned.commands) {
      expect(command.argv.slice(0, 3)).toEqual(["docker", "--host", "unix:///var/run/docker.sock"]);
    }
    const deploy = planned.commands.find((c) => c.argv.includes("stack"))!;
    expect(
      deploy.argv.slice(deploy.argv.indexOf("--resolve-image"), deploy.argv.indexOf("--resolve-image") + 2),
    ).toEqual(["--resolve-image", "changed"]);
    const doc: Doc = parse(planned.artifact.content);
    const web = doc.services.web;
    expect(web.networks).toEqual(["origkeys", "backend", "front"]);
    expect(web.cap_add).toEqual(["NET_ADMIN"]);
    expect(web.cap_drop).toEqual(["MKNOD"]);
    expect(web.working_dir).toBe("/www");
    expect(web.ports).toEqual([
      { target: 8080, published: 18110, protocol: "tcp", mode: "host" },
      { target: 8081, published: 18111, protocol: "tcp", mode: "host" },
    ]);
    expect(web.pull_policy).toBeUndefined();
    expect(doc.networks.backend).toEqual({ driver: "overlay" });
    expect(doc.networks.front).toEqual({ driver: "overlay", labels: { "dev.example/tier": "front" } });
    expect(doc.volumes).toEqual({ data: { labels: { "dev.example/purpose": "cache" } } });
  });

  it("kubernetes: port ranges expanded, capabilities in the securityContext, workingDirectory", async () => {
    const docs: Doc[] = parseAllDocuments((await plan("api", "k8s")).artifact.content).map((d) => d.toJSON());
    const store = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "store");
    expect(store.spec.template.spec.containers[0].ports).toEqual([
      { containerPort: 6379, protocol: "TCP" },
      { containerPort: 6380, protocol: "TCP" },
    ]);
    const service = docs.find((d) => d.kind === "Service" && d.metadata.name === "store");
    expect(service.spec.ports.map((p: { port: number }) => p.port)).toEqual([6379, 6380]);
    const worker = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "worker").spec.template
      .spec.containers[0];
    expect(worker.workingDir).toBe("/tmp");
    expect(worker.securityContext).toEqual({ capabilities: { drop: ["ALL"] } });
  });

  it("kubernetes: environment networks and volumes are a one-line error naming file, field and target", async () => {
    const r = await cli("up", "edge", "--dry-run", "--target", "k8s", "--cwd", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      'error: environments/edge/index.ts: networks.backend: environment networks are not available on the kubernetes backend (target "k8s"): every service of a project shares the namespace\'s network\n',
    );
  });

  it("pipeline run as { run, cwd, env } and as a string", async () => {
    const dry = await cli("run", "check", "--dry-run", "--cwd", dir);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('hello: run echo "$GREETING from $(basename "$PWD")"');
    const run = await cli("run", "check", "--cwd", dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("hej from environments");
    expect(run.stderr).toContain("plain");
  });
});

describe("bad values of the new keys: one line naming file, field and value", () => {
  it.each([
    [
      { ports: ["8000-8002:9000-9001"] },
      'services.web.ports[0]: "8000-8002:9000-9001" is not a port mapping',
    ],
    [
      { networks: ["nope"] },
      'services.web.networks: network "nope" is not declared in the environment\'s networks',
    ],
    [
      { workingDir: "/a", workingDirectory: "/b" },
      'services.web.workingDirectory: "/b" differs from workingDir "/a"',
    ],
    [{ capAdd: "NET_ADMIN" }, "services.web.capAdd: expected array"],
    [{ overrides: { env: { A: "1" } } }, "services.web.overrides: overrides apply to a catalog preset"],
  ])("%j", async (service, message) => {
    const { testdir, json } = await import("../../../test/support/testdir.js");
    const project = testdir({
      "kaupang.config.json": json({ project: "bad" }),
      "environments/app.json": json({ services: { web: { image: "x:1", ...service } } }),
    });
    const r = await cli("up", "app", "--dry-run", "--cwd", project);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: environments/app.json: ${message}`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a target with both dockerHost and dockerContext", async () => {
    const { testdir, json } = await import("../../../test/support/testdir.js");
    const project = testdir({
      "kaupang.config.json": json({
        project: "bad",
        targets: { s: { backend: "swarm", dockerHost: "tcp://10.0.0.1:2376", dockerContext: "other" } },
      }),
      "environments/app.json": json({ services: { web: "x:1" } }),
    });
    const r = await cli("up", "app", "--dry-run", "--target", "s", "--cwd", project);
    expect(r.stderr).toBe(
      'error: kaupang.config.json: targets.s.dockerHost: "tcp://10.0.0.1:2376" and dockerContext "other" both pick the engine; keep one\n',
    );
    const badHost = testdir({
      "kaupang.config.json": json({ project: "bad", targets: { s: { dockerHost: "10.0.0.1:2376" } } }),
      "environments/app.json": json({ services: { web: "x:1" } }),
    });
    const r2 = await cli("up", "app", "--dry-run", "--target", "s", "--cwd", badHost);
    expect(r2.stderr).toBe(
      'error: kaupang.config.json: targets.s.dockerHost: "10.0.0.1:2376" is not a docker host (unix://…, tcp://…, ssh://…)\n',
    );
  });
});
