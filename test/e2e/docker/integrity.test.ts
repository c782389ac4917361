/**
 * What cannot go unseen: records cut off the end of a real deploy's ledger,
 * and a config that never finishes loading (an endless loop, an await that
 * never settles) under --timeout, Ctrl-C and SIGTERM.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { testdir } from "../../support/testdir.js";
import { project, sleeper } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker } from "../support/kaupang.js";

const fresh = projectNames("itg");
const bin = fileURLToPath(new URL("../../../packages/cli/bin/kaupang.mjs", import.meta.url));
beforeAll(requireDocker);

describe("records cut from the end of the ledger", () => {
  it("ledger verify fails naming the gap, up refuses to chain over it, restoring the lines repairs it", async () => {
    const name = fresh();
    const dir = project(name, { app: { services: { web: sleeper() } } });
    for (const version of ["1", "2", "3"]) {
      writeFileSync(
        join(dir, "environments/app.json"),
        JSON.stringify({ services: { web: sleeper({ env: { V: version } }) } }),
      );
      const up = await kaupang(["up", "app", "--no-resolve", "--cwd", dir]);
      expect(up.code, up.stderr).toBe(0);
    }
    const file = join(dir, ".kaupang/ledger/app@local.jsonl");
    const text = readFileSync(file, "utf8");
    const lines = text.trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    const lastId = JSON.parse(lines[5]!).id as string;
    writeFileSync(file, `${lines.slice(0, 3).join("\n")}\n`);

    const verify = await kaupang(["ledger", "verify", "--cwd", dir]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toBe(
      `error: .kaupang/ledger/app@local.jsonl: records 4–6 are missing (the last of them ${lastId}): the ledger ends at record 3, but its head anchor (.kaupang/locks/app@local.head) says 6 records, the last ${lastId} (${JSON.parse(lines[5]!).hash.slice(0, 19)}…); they were cut from its end\n` +
        "hint: restore the missing lines (from a backup or version control); to accept the shorter ledger, remove .kaupang/locks/app@local.head\n",
    );
    const up = await kaupang(["up", "app", "--no-resolve", "--force", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("records 4–6 are missing");
    expect(readFileSync(file, "utf8").trimEnd().split("\n")).toHaveLength(3);

    writeFileSync(file, text);
    const repaired = await kaupang(["ledger", "verify", "--cwd", dir]);
    expect(repaired.stdout).toBe("app@local: 6 records, chain intact, head anchor matches\n");
  });
});

describe("a config that never finishes loading", () => {
  const configs = {
    "an endless loop": "while (true) {}\nexport default { project: 'x' };\n",
    "a top-level await that never settles":
      "await new Promise(() => {});\nexport default { project: 'x' };\n",
  };
  for (const [what, source] of Object.entries(configs)) {
    it(`${what}: --timeout 2s, Ctrl-C and SIGTERM each end it within 3 s with one line naming the file`, async () => {
      const cwd = testdir({ "kaupang.config.ts": source });
      const began = Date.now();
      const timedOut = await kaupang(["up", "web", "--timeout", "2s", "--cwd", cwd]);
      expect(Date.now() - began).toBeLessThan(3000 + 1000); // 2 s deadline + kaupang's own start
      expect(timedOut.code).toBe(1);
      expect(timedOut.stderr).toBe(
        "error: kaupang.config.ts did not finish loading within 2s (a loop that never ends, or an await that never settles?); stopped it\n",
      );
      for (const [signal, code] of [
        ["SIGINT", 130],
        ["SIGTERM", 143],
      ] as const) {
        const child = spawn(process.execPath, [bin, "up", "web", "--cwd", cwd], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const sent = Date.now();
        child.kill(signal);
        expect(await exited).toBe(code);
        expect(Date.now() - sent).toBeLessThan(3000);
        expect(stderr).toMatch(
          new RegExp(
            `^error: interrupted \\(${signal}\\) while loading kaupang\\.config\\.ts \\(not finished after \\d+\\.\\ds\\); stopped it\\n$`,
          ),
        );
      }
    });
  }
});
