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
        'import { defineEnvironment, secret } from "@kaupang/core/define";\nexport default defineEnvironment({ services: { web: { image: "nginx", env: { K: secret("K") } } } });\n',
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
