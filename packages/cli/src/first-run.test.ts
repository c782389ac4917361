/**
 * What a new user meets in the first minutes: each rough edge, with the exact
 * text or behaviour it has now.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { json, testdir } from "../../../test/support/testdir.js";
import { cli } from "./testing/cli.js";

const config = (extra: Record<string, unknown> = {}) => json({ project: "demo", ...extra });
const savedTarget = process.env.KAUPANG_TARGET;
afterEach(() => {
  if (savedTarget === undefined) delete process.env.KAUPANG_TARGET;
  else process.env.KAUPANG_TARGET = savedTarget;
});

describe("loading configs", () => {
  it('imports the helpers from "@kaupang/core/define", the package\'s listed subpath', async () => {
    const dir = testdir({
      "kaupang.config.ts":
        'import { defineConfig } from "@kaupang/core/define";\nexport default defineConfig({ project: "demo" });\n',
      "environments/api.ts":
        'import { defineEnvironment } from "@kaupang/core/define";\nexport default defineEnvironment({ services: { web: "nginx" } });\n',
    });
    const r = await cli("up", "api", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("names the file and line of a runtime error in a config file", async () => {
    const dir = testdir({
      "kaupang.config.json": config(),
      "environments/db.ts": [
        'import { defineEnvironment } from "@kaupang/core";',
        "const settings: { password?: string } = {};",
        "export default defineEnvironment({",
        "  services: {",
        "    db: {",
        '      image: "postgres:16", env: { POSTGRES_PASSWORD: (settings.password as any).trim() },',
        "    },",
        "  },",
        "});",
        "",
      ].join("\n"),
    });
    const r = await cli("up", "db", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe(
      "error: environments/db.ts:6: TypeError: Cannot read properties of undefined (reading 'trim')\n",
    );
    expect(r.code).toBe(1);
  });

  it("names the helper file that threw, and the file being loaded", async () => {
    const dir = testdir({
      "kaupang.config.json": config(),
      "lib/env.ts":
        "export function must(name: string): string {\n  throw new Error(`${name} is not set`);\n}\n",
      "environments/api.ts":
        'import { must } from "../lib/env";\nexport default { services: { web: { image: must("WEB_IMAGE") } } };\n',
    });
    const r = await cli("up", "api", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe("error: lib/env.ts:2: Error: WEB_IMAGE is not set (loading environments/api.ts)\n");
  });

  it("says what the default export is when it is not an object", async () => {
    for (const [source, what] of [
      ["export default null;\n", "the default export is null; it must be an object"],
      ['export default "demo";\n', 'the default export is "demo"; it must be an object'],
      ['export const project = "demo";\n', "has no default export"],
    ]) {
      const r = await cli("up", "api", "--dry-run", "--cwd", testdir({ "kaupang.config.ts": source! }));
      expect(r.stderr).toBe(
        `error: kaupang.config.ts: ${what}\nhint: export default defineConfig({ … }) / defineEnvironment({ … })\n`,
      );
      expect(r.code).toBe(1);
    }
  });

  it("names a missing environments folder as such", async () => {
    const dir = testdir({ "kaupang.config.json": config({ environments: "./envs" }) });
    const r = await cli("up", "api", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe(
      'error: unknown environment "api": the environments folder envs/ does not exist (kaupang.config.json: environments is "./envs")\nhint: create envs/api.ts (kaupang init writes a first one), or point environments at your folder\n',
    );
    mkdirSync(join(dir, "envs"));
    const empty = await cli("up", "api", "--dry-run", "--cwd", dir);
    expect(empty.stderr).toBe('error: unknown environment "api" (no environment files in envs/)\n');
  });

  it("says an unknown target came from $KAUPANG_TARGET", async () => {
    const dir = testdir({
      "kaupang.config.json": config({ targets: { prod: {} } }),
      "environments/api.json": json({ services: { web: "nginx" } }),
    });
    process.env.KAUPANG_TARGET = "staging";
    const r = await cli("up", "api", "--dry-run", "--cwd", dir);
    expect(r.stderr).toBe(
      'error: unknown target "staging" (from $KAUPANG_TARGET); configured targets: local, prod\n',
    );
    const flag = await cli("up", "api", "--dry-run", "--target", "stagin", "--cwd", dir);
    expect(flag.stderr).toBe('error: unknown target "stagin"; configured targets: local, prod\n');
  });

  it("finds the config in a parent directory, as git does", async () => {
    const dir = testdir({
      "kaupang.config.json": config(),
      "environments/api.json": json({ services: { web: "nginx" } }),
    });
    const r = await cli("up", "api", "--dry-run", "--output", "json", "--cwd", join(dir, "environments"));
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).root).toBe(dir);
    const outside = testdir({});
    const none = await cli("up", "api", "--dry-run", "--cwd", outside);
    expect(none.stderr).toBe(
      `error: no kaupang.config.{ts,mts,mjs,js,json} in ${outside} or any directory above it\nhint: run kaupang init to start a project here, or pass --cwd <project dir>\n`,
    );
  });
});

describe("validating a plan", () => {
  const plan = (
    environments: Record<string, unknown>,
    extra: Record<string, unknown> = {},
    ...args: string[]
  ) => {
    const files: Record<string, string> = { "kaupang.config.json": config(extra) };
    for (const [name, body] of Object.entries(environments)) files[`environments/${name}.json`] = json(body);
    return cli("up", Object.keys(environments).at(-1)!, "--dry-run", ...args, "--cwd", testdir(files));
  };

  it("says why a port mapping is not one", async () => {
    const cases: [unknown, string][] = [
      ["181110:8080", "181110 is out of range (ports are 1-65535)"],
      ["8080:80/sctp", 'protocol "sctp" is not tcp or udp'],
      ["8000-8010:8000-8011", "the ranges 8000-8010 and 8000-8011 differ in length"],
      ["8010-8000:80", "the range 8010-8000 runs backwards"],
      ["1:2:3:4", 'use "host:container", "container" or "ip:host:container"'],
      [70000, "70000 is out of range (ports are 1-65535)"],
    ];
    for (const [port, why] of cases) {
      const r = await plan({ api: { services: { web: { image: "nginx", ports: [port] } } } });
      expect(r.stderr).toBe(
        `error: environments/api.json: services.web.ports[0]: ${JSON.stringify(port)} is not a port mapping: ${why}\n`,
      );
    }
  });

  it("says what resources.cpus takes", async () => {
    const r = await plan({ api: { services: { web: { image: "nginx", resources: { cpus: "2 cores" } } } } });
    expect(r.stderr).toBe(
      'error: environments/api.json: services.web.resources.cpus: "2 cores" is not a number of CPUs (use a positive number: 0.5, 2, "1.5")\n',
    );
  });

  it("checks image references with Docker's rules before anything runs", async () => {
    const cases: [string, string][] = [
      ["127.0.0.1:5000/UXBAD/Store:1", 'the repository name must be lowercase ("UXBAD")'],
      ["nginx:1.27 alpine", "it contains whitespace"],
      [
        "nginx:-bad",
        'the tag "-bad" must be letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")',
      ],
      ["shop/web@sha256:xyz", 'the digest "sha256:xyz" is not algorithm:hex (sha256:…)'],
      ["shop//web", "the repository path has an empty component"],
      [
        "shop/we%b",
        '"we%b" is not a repository name component (lowercase letters and digits, joined by ".", "_", "__" or "-")',
      ],
    ];
    for (const [image, why] of cases) {
      const r = await plan({ api: { services: { web: { image } } } });
      expect(r.stderr).toBe(
        `error: environments/api.json: services.web.image: ${JSON.stringify(image)} is not a valid image reference: ${why}\n`,
      );
      expect(r.code).toBe(1);
    }
    const prefixed = await plan(
      { api: { services: { web: "web:1" } } },
      { dockerRepository: "ghcr.io/Midgard" },
    );
    expect(prefixed.stderr).toBe(
      'error: environments/api.json: services.web.image: "web:1" (with dockerRepository: "ghcr.io/Midgard/web:1") is not a valid image reference: the repository name must be lowercase ("Midgard")\n',
    );
    for (const image of [
      "nginx",
      "localhost:5000/a/b_c__d-e.f:v1.2-rc_3",
      "[::1]:5000/x",
      "Registry.Example:443/team/app@sha256:" + "a".repeat(64),
    ]) {
      const ok = await plan({ api: { services: { web: { image } } } });
      expect(ok.stderr, image).toBe("");
    }
  });

  it("rejects one host port published twice by services deployed together", async () => {
    const r = await plan({
      db: { services: { pg: { image: "postgres:16", ports: ["5432:5432", "8080:80"] } } },
      api: { dependsOn: "db", services: { web: { image: "nginx", ports: ["127.0.0.1:8080:3000"] } } },
    });
    expect(r.stderr).toBe(
      'error: environments/api.json: services.web.ports: host port 8080/tcp is already published by service "pg" of environment "db" (environments/db.json); services deployed together cannot publish the same host port\nhint: publish one of them on another host port\n',
    );
    const same = await plan({
      api: { services: { a: { image: "x", ports: ["9000:1"] }, b: { image: "x", ports: ["9000:2"] } } },
    });
    expect(same.stderr).toContain(
      'services.b.ports: host port 9000/tcp is already published by service "a";',
    );
    // Another protocol or another host address is another port; Kubernetes publishes no host ports.
    const fine = await plan({
      api: {
        services: {
          a: { image: "x", ports: ["127.0.0.1:9000:1", "53:53/udp"] },
          b: { image: "x", ports: ["127.0.0.2:9000:2", "53:53"] },
        },
      },
    });
    expect(fine.stderr).toBe("");
    const k8s = await plan(
      { api: { services: { a: { image: "x", ports: ["9000:1"] }, b: { image: "x", ports: ["9000:2"] } } } },
      {},
      "-b",
      "kubernetes",
    );
    expect(k8s.stderr).toBe("");
  });
});

describe("help", () => {
  it("plain kaupang prints the help on stdout and exits 0", async () => {
    const r = await cli();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: kaupang \[options\] \[command\]\n/);
    expect(r.stdout).toContain("Start here:\n  kaupang init ");
  });

  it("gives every command an example, and says what --target means for it", async () => {
    const { buildProgram } = await import("./cli.js");
    const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true } });
    const all = (c: typeof program): (typeof program)[] => [c, ...c.commands.flatMap(all)];
    const readOnly = ["status", "diff", "history", "ps", "logs", "verify"];
    for (const command of all(program).slice(1)) {
      if (command.name() === "help") continue;
      const help = command.helpInformation() + (await helpAfter(command));
      expect(help, command.name()).toMatch(/\nExamples:\n {2}kaupang /);
      const target = command.options.find((o) => o.long === "--target");
      if (target && readOnly.includes(command.name()))
        expect(target.description, command.name()).not.toMatch(/deploy to/);
    }
    const down = program.commands.find((c) => c.name() === "down")!;
    expect(down.options.find((o) => o.long === "--timeout")!.description).toBe(
      "how long each environment may take to be removed (default 5m)",
    );
  });
});

/** The text a command adds after its help (examples), as `--help` prints it. */
async function helpAfter(command: import("commander").Command): Promise<string> {
  let text = "";
  command.configureOutput({ writeOut: (t) => (text += t), writeErr: (t) => (text += t) });
  command.outputHelp();
  return text;
}

describe("logs and ps", () => {
  const project = () =>
    testdir({
      "kaupang.config.json": config({
        targets: { sw: { backend: "swarm" }, k8s: { backend: "kubernetes", namespace: "ns" } },
      }),
      "environments/api.json": json({ services: { web: "nginx", worker: "nginx" } }),
    });

  it("passes --tail, --since and -t to each backend's own logs command", async () => {
    const { passthroughCommands } = await import("@kaupang/core");
    const cwd = project();
    const flags = { tail: 50, since: "10m", timestamps: true } as const;
    const argv = async (target: string, extra: Record<string, unknown> = flags) =>
      (await passthroughCommands("logs", { cwd, environment: "api", service: "web", target, ...extra })).map(
        (c) => c.argv.join(" "),
      );
    expect(await argv("local")).toEqual(["docker compose -p demo-api logs --tail 50 --since 10m -t web"]);
    expect(await argv("sw")).toEqual(["docker service logs --tail 50 --since 10m -t demo-api_web"]);
    expect(await argv("k8s")).toEqual([
      "kubectl -n ns logs -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=demo-api,app.kubernetes.io/name=web --all-containers --prefix --tail=50 --since=10m --timestamps",
    ]);
    expect(await argv("k8s", { since: "2026-06-12T14:00:00Z", tail: "all" })).toEqual([
      "kubectl -n ns logs -l app.kubernetes.io/managed-by=kaupang,app.kubernetes.io/instance=demo-api,app.kubernetes.io/name=web --all-containers --prefix --tail=-1 --since-time=2026-06-12T14:00:00Z",
    ]);
  });

  it("refuses a --tail or --since it cannot pass on", async () => {
    const cwd = project();
    const tail = await cli("logs", "api", "--tail", "lots", "--cwd", cwd);
    expect(tail.stderr).toContain(
      "error: option '--tail <n>' argument 'lots' is invalid. use a number of lines, or \"all\".",
    );
    expect(tail.code).toBe(2);
    const since = await cli("logs", "api", "--since", "yesterday", "--cwd", cwd);
    expect(since.stderr).toContain(
      "error: option '--since <when>' argument 'yesterday' is invalid. use a duration (10m, 1h30m) or a timestamp (2026-06-12T14:00:00Z).",
    );
    const service = await cli("ps", "api", "wbe", "--output", "json", "--cwd", cwd);
    expect(service.stderr).toBe(
      'error: environment api has no service "wbe" (did you mean "web"?); services: web, worker\n',
    );
  });
});

describe("the config above, for the read-only commands too", () => {
  it("history from a subdirectory reads the project's ledger, not an empty one there", async () => {
    const dir = testdir({
      "kaupang.config.json": config(),
      "environments/api.json": json({ services: { web: "nginx" } }),
    });
    const r = await cli("history", "--output", "json", "--cwd", join(dir, "environments"));
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([]);
    const { existsSync } = await import("node:fs");
    expect(existsSync(join(dir, "environments", ".kaupang"))).toBe(false);
  });
});

describe("--dry-run and secrets", () => {
  it("warns about the secrets up would stop on, and still prints the plan", async () => {
    const dir = testdir({
      "kaupang.config.json": config(),
      "environments/api.json": json({
        services: {
          web: { image: "nginx", env: { A: { $secret: "KINIT_TEST_A" }, B: { $secret: "KINIT_TEST_B" } } },
        },
      }),
    });
    delete process.env.KINIT_TEST_A;
    process.env.KINIT_TEST_B = "set";
    try {
      const r = await cli("up", "api", "--dry-run", "--cwd", dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Dry run: nothing was deployed.");
      expect(r.stderr).toBe(
        "! secret not set in this environment: KINIT_TEST_A (api); up would stop before deploying anything (export it, or map it in your CI step's env)\n",
      );
      const json = await cli("up", "api", "--dry-run", "--output", "json", "--cwd", dir);
      expect(JSON.parse(json.stdout).dryRun).toBe(true);
      expect(json.stderr).toContain("KINIT_TEST_A (api)");
      // A Kubernetes Secret lives in the cluster: a hermetic dry-run does not judge it.
      expect((await cli("up", "api", "--dry-run", "-b", "kubernetes", "--cwd", dir)).stderr).toBe("");
      process.env.KINIT_TEST_A = "set";
      expect((await cli("up", "api", "--dry-run", "--cwd", dir)).stderr).toBe("");
    } finally {
      delete process.env.KINIT_TEST_A;
      delete process.env.KINIT_TEST_B;
    }
  });
});
