import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../test/support/testdir.js";
import { cli } from "./testing/cli.js";

const config = (extra: Record<string, unknown> = {}) =>
  json({ project: "demo", environments: "./environments", ...extra });

async function dryRun(files: Record<string, string>, ...args: string[]) {
  const dir = testdir(files);
  return cli("up", ...args, "--dry-run", "--cwd", dir);
}

describe("up --bundle --rollback-on-failure", () => {
  it("is taken (the deploy restores within the site's rollback bounds): a missing bundle is the error", async () => {
    const r = await cli("up", "--bundle", "./nowhere.bundle", "--rollback-on-failure", "--cwd", testdir({}));
    expect(r.stderr).not.toContain("--rollback-on-failure");
    expect(r.stderr).toMatch(/nowhere\.bundle/);
    expect(r.stderr.trim().split("\n")[0]).toMatch(/^error: /);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
  });
});

describe("bad input: one clear line, exit 1, nothing printed on stdout", () => {
  it("environment dependency cycle", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/alpha.json": json({ dependsOn: "beta", services: { a: "img" } }),
        "environments/beta.json": json({ dependsOn: ["alpha"], services: { b: "img" } }),
      },
      "alpha",
    );
    expect(r.stderr).toBe(
      "error: environments/alpha.json: dependsOn: environment dependency cycle: alpha → beta → alpha\n",
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
  });

  it("service dependency cycle", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": json({
          services: {
            web: { image: "img", dependsOn: "worker" },
            worker: { image: "img", dependsOn: "web" },
          },
        }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      "error: environments/api.json: services: service dependency cycle: web → worker → web\n",
    );
    expect(r.code).toBe(1);
  });

  it("missing environment dependency names who asked", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": json({ dependsOn: "postgress", services: { web: "img" } }),
        "environments/postgres.json": json({ services: { db: "img" } }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: environments/api.json: dependsOn: environment "postgress" does not exist (did you mean "postgres"?)\n',
    );
    expect(r.code).toBe(1);
  });

  it("missing service dependency names the service", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": json({
          services: { web: "img", worker: { image: "img", dependsOn: ["wbe"] } },
        }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: environments/api.json: services.worker.dependsOn: service "wbe" does not exist in environment "api" (did you mean "web"?)\n',
    );
  });

  it("missing catalog preset names the preset and the sources searched", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config({ catalog: { sources: [{ type: "file", path: "./catalog.json" }] } }),
        "catalog.json": json({ services: { postgres: { image: "postgres:16" } } }),
        "environments/api.json": json({ services: { db: { $catalog: "postgre" } } }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: environments/api.json: services.db: catalog preset "postgre" not found (did you mean "postgres"?) (searched: ./catalog.json)\n',
    );
    expect(r.code).toBe(1);
  });

  it("bad port mapping", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/front.json": json({ services: { web: { image: "nginx", ports: ["80:abc"] } } }),
      },
      "front",
    );
    expect(r.stderr).toBe(
      'error: environments/front.json: services.web.ports[0]: "80:abc" is not a port mapping: "abc" is not a port number ("host:container", "container" or "ip:host:container", or ranges)\n',
    );
    expect(r.code).toBe(1);
  });

  it("unknown key with did-you-mean", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config({ targets: { prod: { backend: "kubernetes", kubeContxt: "aks" } } }),
        "environments/api.json": json({ services: { web: "img" } }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: kaupang.config.json: targets.prod.kubeContxt: unknown key (did you mean "kubeContext"?)\n',
    );
    expect(r.code).toBe(1);
  });

  it("unknown key in a service", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": json({ services: { web: { image: "img", prots: ["80"] } } }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: environments/api.json: services.web.prots: unknown key (did you mean "ports"?)\n',
    );
  });

  it("bad enum value with did-you-mean", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config({ defaultBackend: "swam" }),
        "environments/api.json": json({ services: { web: "img" } }),
      },
      "api",
    );
    expect(r.stderr).toBe(
      'error: kaupang.config.json: defaultBackend: "swam" is not one of compose, swarm, kubernetes (did you mean "swarm"?)\n',
    );
  });

  it("unknown target lists the configured ones", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config({
          targets: { staging: { backend: "swarm" }, prod: { backend: "kubernetes" } },
        }),
        "environments/api.json": json({ services: { web: "img" } }),
      },
      "api",
      "--target",
      "prdo",
    );
    expect(r.stderr).toBe(
      'error: unknown target "prdo" (did you mean "prod"?); configured targets: local, staging, prod\n',
    );
    expect(r.code).toBe(1);
  });

  it("unknown environment lists the known ones", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": json({ services: { web: "img" } }),
        "environments/worker.ts": "export default { services: { w: 'img' } };\n",
      },
      "apj",
    );
    expect(r.stderr).toBe(
      'error: unknown environment "apj" (did you mean "api"?); environments: api, worker\n',
    );
    expect(r.code).toBe(1);
  });

  it("bad JSON syntax names the file and position", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/api.json": '{\n  "services": {\n    "web": "img",\n  }\n}\n',
      },
      "api",
    );
    expect(r.stderr).toMatch(/^error: environments\/api\.json: invalid JSON at line 4, column 3: .+\n$/);
    expect(r.code).toBe(1);
  });

  it("bad TypeScript syntax names the file and position", async () => {
    const r = await dryRun(
      {
        "kaupang.config.ts": 'export default { project: "demo", environments: "./environments" };\n',
        "environments/api.ts":
          'import { defineEnvironment } from "@kaupang/core";\nexport default defineEnvironment({\n  services: { web: "img" \n});\n',
      },
      "api",
    );
    expect(r.stderr).toMatch(/^error: environments\/api\.ts: syntax error at line 4, column \d+: .+\n$/);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(r.code).toBe(1);
  });

  it("a config that throws while loading is reported without a stack", async () => {
    const r = await dryRun(
      {
        "kaupang.config.mjs":
          'const tag = process.env.NOPE_NOT_SET.trim();\nexport default { project: "demo" };\n',
      },
      "api",
    );
    expect(r.stderr).toMatch(/^error: kaupang\.config\.mjs:1: TypeError: .*trim.*\n$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("missing config file", async () => {
    const r = await dryRun({ "README.md": "nothing here\n" }, "api");
    expect(r.stderr).toMatch(
      /^error: no kaupang\.config\.\{ts,mts,mjs,js,json\} in .+ or any directory above it\nhint: run kaupang init to start a project here, or pass --cwd <project dir>\n$/,
    );
    expect(r.code).toBe(1);
  });

  it("a pipeline step with two actions is rejected naming the step", async () => {
    const dir = testdir({
      "kaupang.config.json": config({
        pipelines: { release: { steps: { deploy: { up: "api", run: "echo" } } } },
      }),
    });
    const r = await cli("run", "release", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe(
      "error: kaupang.config.json: pipelines.release.steps.deploy: a step needs exactly one of run, up, down, build, wait (found run, up)\n",
    );
    expect(r.code).toBe(1);
  });

  it("a pipeline cycle is rejected", async () => {
    const dir = testdir({
      "kaupang.config.json": config({
        pipelines: { release: { steps: { a: { run: "x", needs: "b" }, b: { run: "y", needs: "a" } } } },
      }),
    });
    const r = await cli("run", "release", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe("error: kaupang.config.json: pipelines.release.steps: step cycle: a → b → a\n");
    expect(r.code).toBe(1);
  });

  it("bad duration in a pipeline", async () => {
    const dir = testdir({
      "kaupang.config.json": config({
        pipelines: { release: { steps: { smoke: { wait: { http: "http://x", timeout: "30 seconds" } } } } },
      }),
    });
    const r = await cli("run", "release", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe(
      'error: kaupang.config.json: pipelines.release.steps.smoke.wait.timeout: "30 seconds" is not a duration (use 500ms, 2s, 2m, 1h)\n',
    );
  });
});

describe("command-line usage errors exit 2", () => {
  it("unknown option", async () => {
    const r = await cli("up", "api", "--dry-runn");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--dry-runn'/);
  });

  it("bad choice", async () => {
    const r = await cli("up", "api", "--pull", "sometimes");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sometimes.*Allowed choices are always, missing, never/s);
  });

  it("unknown command", async () => {
    const r = await cli("upp");
    expect(r.code).toBe(2);
  });

  it("two services claiming the same host and path", async () => {
    const routed = (http: unknown) => ({ image: "img", ports: ["8080"], http });
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/app.json": json({
          services: { api: routed("shop.example.com"), web: routed({ host: "shop.example.com", path: "/" }) },
        }),
      },
      "app",
    );
    expect(r.stderr).toBe(
      'error: environments/app.json: services.web.http: "shop.example.com/" is already routed to service api; each host and path goes to one service\n',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
  });

  it("a route to a port the service does not expose", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/app.json": json({
          services: {
            web: { image: "img", ports: ["8080"], http: { host: "shop.example.com", port: 3000 } },
          },
        }),
      },
      "app",
    );
    expect(r.stderr).toBe(
      'error: environments/app.json: services.web.http.port: 3000 is not a port the service exposes (its ports: 8080); add "3000" to ports to expose it\n',
    );
    expect(r.code).toBe(1);
  });

  it("routes on a target with several hosts", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config({
          targets: { edge: { hosts: ["ssh://deploy@10.0.0.5", "ssh://deploy@10.0.0.6"] } },
        }),
        "environments/app.json": json({
          services: { web: { image: "img", ports: ["8080"], http: "shop.example.com" } },
        }),
      },
      "app",
      "--target",
      "edge",
    );
    expect(r.stderr.split("\n")[0]).toBe(
      'error: environments/app.json: services.web.http: "shop.example.com": target "edge" deploys to several hosts, and routes go through one proxy admin address (proxy.adminAddress): routes are not available on a target with hosts',
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
  });

  it("--help exits 0 and lists commands", async () => {
    const r = await cli("--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/up \[options\] \[env\]/);
  });
});

describe("every problem of a file, one line each", () => {
  it("shows the unknown key next to the missing one it caused", async () => {
    const r = await dryRun(
      {
        "kaupang.config.json": config(),
        "environments/app.json": json({ servics: { web: "nginx" } }),
      },
      "app",
    );
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(/^error: environments\/app\.json: services: /),
      expect.stringMatching(/^error: environments\/app\.json: servics: .*did you mean "services"/),
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
  });

  it("stops listing at 20 and counts the rest", async () => {
    const services = Object.fromEntries(
      Array.from({ length: 25 }, (_, i) => [`s${i}`, { image: "img", replicas: "many" }]),
    );
    const r = await dryRun(
      { "kaupang.config.json": config(), "environments/app.json": json({ services }) },
      "app",
    );
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(21);
    expect(lines[0]).toMatch(
      /^error: environments\/app\.json: services\.s0\.replicas: expected number, got "many"$/,
    );
    expect(lines[20]).toBe("error: … and 5 more problems");
  });
});
