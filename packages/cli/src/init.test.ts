import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../test/support/testdir.js";
import { cli } from "./testing/cli.js";

describe("kaupang init", () => {
  for (const format of ["ts", "mjs", "json"] as const) {
    it(`scaffolds kaupang.config.${format} and environments/app.${format} that plan as they are`, async () => {
      const dir = join(testdir({}), "Longhall_Shop");
      const r = await cli("init", "--format", format, "--cwd", dir);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        [
          `  wrote kaupang.config.${format}`,
          `  wrote environments/app.${format}`,
          "",
          "Next:",
          `  kaupang up app --dry-run --cwd ${dir}   # the plan, touching nothing`,
          `  kaupang up app --cwd ${dir}             # deploy it with docker compose`,
          "",
        ].join("\n"),
      );
      const config = readFileSync(join(dir, `kaupang.config.${format}`), "utf8");
      expect(config).toContain(format === "json" ? '"project": "longhall-shop"' : 'project: "longhall-shop"');
      const plan = await cli("up", "app", "--dry-run", "--output", "json", "--cwd", dir);
      expect(plan.code).toBe(0);
      const parsed = JSON.parse(plan.stdout);
      expect(parsed.project).toBe("longhall-shop");
      expect(parsed.environments[0].images).toEqual([
        { service: "web", ref: "nginx:1.27-alpine", pinned: false },
      ]);
    });
  }

  it("writes the TypeScript a user would write", async () => {
    const dir = testdir({});
    await cli("init", "--project", "longhall", "--environment", "api", "--cwd", dir);
    expect(readFileSync(join(dir, "kaupang.config.ts"), "utf8")).toBe(
      [
        'import { defineConfig } from "@kaupang/core";',
        "",
        "export default defineConfig({",
        '  project: "longhall",',
        '  environments: "./environments",',
        '  defaultBackend: "compose",',
        "  targets: { local: {} },",
        "});",
        "",
      ].join("\n"),
    );
    expect(readFileSync(join(dir, "environments/api.ts"), "utf8")).toBe(
      [
        "// One environment: the services `kaupang up api` deploys together.",
        "// A service is an image string, or { image, build, ports, env, volumes, healthcheck, dependsOn, … }.",
        'import { defineEnvironment } from "@kaupang/core";',
        "",
        "export default defineEnvironment({",
        '  services: { web: { image: "nginx:1.27-alpine", ports: ["8080:80"] } },',
        "});",
        "",
      ].join("\n"),
    );
  });

  it("refuses to overwrite: an existing config of any format, or an environment file, and writes nothing", async () => {
    const dir = testdir({ "kaupang.config.json": "{}\n" });
    const r = await cli("init", "--cwd", dir);
    expect(r.stderr).toBe(
      `error: ${dir} already has kaupang.config.json; kaupang init never overwrites, so nothing was written\nhint: run it in an empty directory, or move those files away first\n`,
    );
    expect(r.code).toBe(1);
    expect(existsSync(join(dir, "environments"))).toBe(false);

    const other = testdir({ "environments/app.ts": "// mine\n" });
    const again = await cli("init", "--cwd", other);
    expect(again.stderr).toContain(`error: ${other} already has environments/app.ts;`);
    expect(existsSync(join(other, "kaupang.config.ts"))).toBe(false);
    expect(readFileSync(join(other, "environments/app.ts"), "utf8")).toBe("// mine\n");
  });

  it("rejects names kaupang cannot use, naming the flag", async () => {
    const r = await cli("init", "--project", "Shop_1", "--cwd", testdir({}));
    expect(r.stderr).toBe(
      'error: project name "Shop_1" must be lowercase letters, digits and "-" (at most 63, starting and ending with a letter or digit)\nhint: pick another with --project\n',
    );
    expect(r.code).toBe(1);
  });

  it("--dry-run prints the files and writes none", async () => {
    const dir = testdir({});
    const r = await cli("init", "--dry-run", "--format", "json", "--cwd", dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--- kaupang.config.json\n{\n");
    expect(r.stdout).toContain("  would write environments/app.json\n");
    expect(existsSync(join(dir, "kaupang.config.json"))).toBe(false);
  });

  it("--secrets needs --from", async () => {
    const r = await cli("init", "--secrets", "--cwd", testdir({}));
    expect(r.stderr).toContain("error: --secrets needs --from <compose-file>");
    expect(r.code).toBe(2);
  });

  it("a missing compose file is named", async () => {
    const dir = testdir({});
    writeFileSync(join(dir, "x"), "");
    const r = await cli("init", "--from", join(dir, "nope.yml"), "--cwd", dir);
    expect(r.stderr).toBe(
      `error: --from ${join(dir, "nope.yml")}: no such file\nhint: give the compose file(s) to convert: --from docker-compose.yml [-f docker-compose.override.yml]\n`,
    );
    expect(r.code).toBe(1);
  });
});
