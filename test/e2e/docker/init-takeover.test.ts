/**
 * The way in for someone who already runs a compose project: `docker compose
 * up` it, stop it (keeping its volume, as docs/migrating.md says), convert it
 * with `kaupang init --from`, and `kaupang up` the result on the real engine.
 * The converted service finds the data the compose project wrote (the volume
 * is declared under the name compose gave it) and runs with the input's
 * capabilities.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseImage } from "../support/fixture.js";
import {
  cleanupProject,
  freePort,
  kaupang,
  requireDocker,
  sh,
  uniqueProject,
  waitHttp,
} from "../support/kaupang.js";

const name = uniqueProject("takeover");
const dir = mkdtempSync(join(tmpdir(), "kaupang-takeover-"));
const volume = `${name}_data`;

beforeAll(requireDocker);
afterAll(() => {
  sh(["docker", "compose", "down", "--timeout", "1"], { cwd: dir });
  cleanupProject(name);
  sh(["docker", "volume", "rm", "-f", volume]);
  rmSync(dir, { recursive: true, force: true });
});

describe("kaupang init --from, then up, on a compose project that ran", () => {
  it("keeps the compose project's volume data and its capabilities", async () => {
    const port = await freePort();
    writeFileSync(
      join(dir, "compose.yaml"),
      [
        `name: ${name}`,
        "services:",
        "  web:",
        `    image: ${baseImage()}`,
        // The first start writes a stamp into the volume; later starts keep it.
        `    command: ["sh", "-c", "[ -f /www/data/stamp ] || cat /proc/sys/kernel/random/uuid > /www/data/stamp; exec httpd -f -p 8080 -h /www"]`,
        `    ports: ["${port}:8080"]`,
        "    volumes: [data:/www/data]",
        "    cap_drop: [ALL]",
        "    cap_add: [CHOWN]",
        "    init: true",
        "volumes:",
        "  data: {}",
        "",
      ].join("\n"),
    );
    const composeUp = sh(["docker", "compose", "up", "-d"], { cwd: dir });
    expect(composeUp.code, composeUp.err).toBe(0);
    const stamp = await waitHttp(`http://127.0.0.1:${port}/data/stamp`);
    expect(stamp).toMatch(/^[0-9a-f-]{36}\n$/);
    // Stop the compose project, keeping its volume.
    expect(sh(["docker", "compose", "down", "--timeout", "1"], { cwd: dir }).code).toBe(0);
    expect(sh(["docker", "volume", "inspect", volume]).code).toBe(0);

    const init = await kaupang(["init", "--from", "compose.yaml"], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    const environment = readFileSync(join(dir, "environments", "app.ts"), "utf8");
    expect(environment).toContain(`volumes: { data: { name: "${volume}" } }`);
    expect(environment).toContain('capAdd: ["CHOWN"]');

    const up = await kaupang(["up", "app"], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain("app: deployed");
    // The same stamp: kaupang's container mounted the volume compose's project wrote.
    expect(await waitHttp(`http://127.0.0.1:${port}/data/stamp`)).toBe(stamp);
    const id = sh(["docker", "ps", "-q", "--filter", `label=dev.kaupang.project=${name}`]).out;
    expect(id).toMatch(/^[0-9a-f]+$/);
    // Docker may print a capability with or without its CAP_ prefix.
    const caps = (field: string) =>
      (
        JSON.parse(sh(["docker", "inspect", "--format", `{{json .HostConfig.${field}}}`, id]).out) as string[]
      ).map((c) => c.replace(/^CAP_/, ""));
    expect(caps("CapAdd")).toEqual(["CHOWN"]);
    expect(caps("CapDrop")).toEqual(["ALL"]);

    const down = await kaupang(["down", "app"], { cwd: dir });
    expect(down.code, down.stderr).toBe(0);
    // kaupang's down keeps the data too.
    expect(sh(["docker", "volume", "inspect", volume]).code).toBe(0);
  });
});
