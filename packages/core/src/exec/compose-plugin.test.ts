import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { composePlugin, directCompose } from "./compose-plugin.js";

function dockerConfigWithPlugin(): { env: NodeJS.ProcessEnv; plugin: string } {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-plugins-"));
  mkdirSync(join(dir, "cli-plugins"));
  const plugin = join(dir, "cli-plugins", "docker-compose");
  writeFileSync(plugin, "#!/bin/sh\n");
  chmodSync(plugin, 0o755);
  return { env: { DOCKER_CONFIG: dir }, plugin };
}

describe("direct compose plugin", () => {
  it("runs `docker compose …` as the plugin binary the docker CLI would run", () => {
    const { env, plugin } = dockerConfigWithPlugin();
    expect(composePlugin(env)).toBe(plugin);
    expect(directCompose("docker", ["compose", "-p", "x", "up", "-d"], env)).toEqual([
      plugin,
      ["-p", "x", "up", "-d"],
    ]);
  });

  it("leaves other commands, and compose behind docker's global flags, as written", () => {
    const { env } = dockerConfigWithPlugin();
    expect(directCompose("docker", ["--context", "prod", "compose", "up"], env)).toEqual([
      "docker",
      ["--context", "prod", "compose", "up"],
    ]);
    expect(directCompose("docker", ["ps", "-q"], env)).toEqual(["docker", ["ps", "-q"]]);
    expect(directCompose("kubectl", ["compose"], env)).toEqual(["kubectl", ["compose"]]);
  });

  it("finds plugins in the config's cliPluginsExtraDirs, and none where there is none", () => {
    const dir = mkdtempSync(join(tmpdir(), "kaupang-plugins-"));
    const extra = mkdtempSync(join(tmpdir(), "kaupang-extra-"));
    writeFileSync(join(extra, "docker-compose"), "#!/bin/sh\n");
    chmodSync(join(extra, "docker-compose"), 0o755);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ cliPluginsExtraDirs: [extra] }));
    expect(composePlugin({ DOCKER_CONFIG: dir })).toBe(join(extra, "docker-compose"));
    const empty = mkdtempSync(join(tmpdir(), "kaupang-plugins-"));
    const systemWide = [
      "/usr/local/lib/docker/cli-plugins",
      "/usr/local/libexec/docker/cli-plugins",
      "/usr/lib/docker/cli-plugins",
      "/usr/libexec/docker/cli-plugins",
    ].map((d) => join(d, "docker-compose"));
    expect([undefined, ...systemWide]).toContain(composePlugin({ DOCKER_CONFIG: empty }));
  });
});
