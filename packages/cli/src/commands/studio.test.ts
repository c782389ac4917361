import { spawn } from "node:child_process";
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { cli } from "../testing/cli.js";

const repo = fileURLToPath(new URL("../../../../", import.meta.url));
const dev = join(repo, "packages/cli/bin/dev.mjs");

describe("kaupang studio", () => {
  it("loads the studio only when the command runs", () => {
    for (const file of ["src/cli.ts", "src/commands/studio.ts"]) {
      const source = readFileSync(join(repo, "packages/cli", file), "utf8");
      expect(source).not.toMatch(/^import[^;]*"@kaupang\/studio"/m);
    }
    expect(readFileSync(join(repo, "packages/cli/src/commands/studio.ts"), "utf8")).toContain(
      'await import("@kaupang/studio")',
    );
  });

  it("rejects a bad port as a usage error", async () => {
    const r = await cli("studio", "--port", "http");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("use a port 0-65535");
  });

  it("serves on 127.0.0.1 with a token, and stops cleanly on Ctrl-C", async () => {
    const cwd = testdir({});
    cpSync(join(repo, "examples/longhall"), cwd, { recursive: true });
    const child = spawn(process.execPath, [dev, "studio", "--cwd", cwd, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no address: ${output}`)), 25_000);
      const read = (chunk: Buffer) => {
        output += chunk.toString();
        const found = /kaupang studio on (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      };
      child.stdout.on("data", read);
      child.stderr.on("data", read);
    });
    const api = new URL("/api/session", url);
    expect((await fetch(api)).status).toBe(403);
    api.search = new URL(url).search;
    const session = (await (await fetch(api)).json()) as { project?: { name: string } };
    expect(session.project?.name).toBe("longhall");
    child.kill("SIGINT");
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code).toBe(130);
  }, 40_000);
});
