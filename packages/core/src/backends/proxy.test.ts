import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { tarOf } from "./proxy.js";

describe("the proxy's bootstrap tar", () => {
  it("is a tar that tar lists and extracts, with the file's directories", () => {
    const dir = testdir({});
    const file = join(dir, "boot.tar");
    const content = `${JSON.stringify({ admin: { listen: "0.0.0.0:2019" } })}\n`;
    writeFileSync(file, tarOf("etc/kaupang/caddy.json", content), "latin1");
    const list = spawnSync("tar", ["-tvf", file], { encoding: "utf8" });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^drwxr-xr-x root\/root\s+0 .* etc\/$/m);
    expect(list.stdout).toMatch(/^-rw-r--r-- root\/root\s+\d+ .* etc\/kaupang\/caddy\.json$/m);
    const out = spawnSync("tar", ["-xOf", file, "etc/kaupang/caddy.json"], { encoding: "utf8" });
    expect(out.stdout).toBe(content);
  });
});
