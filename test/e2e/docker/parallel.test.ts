import { beforeAll, describe, expect, it } from "vitest";
import { baseImage, project } from "../support/fixture.js";
import { kaupang, projectNames, requireDocker, sh } from "../support/kaupang.js";

const fresh = projectNames("par");

/**
 * An environment whose one service becomes healthy after `seconds` (2 by
 * default), or with `healthy: false` is unhealthy at its first check.
 */
function slow(service: string, options: { healthy?: boolean; dependsOn?: string; seconds?: number } = {}) {
  const healthy = options.healthy !== false;
  return {
    ...(options.dependsOn ? { dependsOn: options.dependsOn } : {}),
    services: {
      [service]: {
        image: baseImage(),
        command: ["sh", "-c", `sleep ${options.seconds ?? 2}; touch /tmp/ready; exec sleep 3600`],
        healthcheck: healthy
          ? { test: ["CMD-SHELL", "test -f /tmp/ready"], interval: "500ms", retries: 40 }
          : { test: ["CMD-SHELL", "false"], interval: "500ms", retries: 1 },
        compose: { init: true },
      },
    },
  };
}

const containersOf = (name: string) =>
  sh(["docker", "ps", "-a", "--filter", `label=dev.kaupang.project=${name}`, "--format", "{{.Names}}"])
    .out.split("\n")
    .filter(Boolean)
    .sort();

interface HistoryRow {
  status: string;
}
const historyOf = async (dir: string, env: string) =>
  JSON.parse((await kaupang(["history", env, "--output", "json", "--cwd", dir])).stdout) as HistoryRow[];

beforeAll(requireDocker);

describe("environments of one wave deploy side by side (real engine)", () => {
  it("independent environments start together, a dependent one after its dependency; --concurrency 1 is one by one", async () => {
    const name = fresh();
    const dir = project(
      name,
      { one: slow("a"), two: slow("b"), three: slow("c", { dependsOn: "one" }) },
      { solutions: { all: { version: "1.0.0", environments: ["one", "two", "three"] } } },
    );
    const up = await kaupang(["up", "--solution", "all", "--cwd", dir]);
    expect(up.code, up.stderr).toBe(0);
    const at = (line: string) => {
      const i = up.stderr.indexOf(line);
      expect(i, `"${line}" in:\n${up.stderr}`).toBeGreaterThan(-1);
      return i;
    };
    // Both of the first wave are under way before either is healthy; three waits for one.
    expect(at("one: deploying to local")).toBeLessThan(at("one: deployed as"));
    expect(at("two: deploying to local")).toBeLessThan(at("one: deployed as"));
    expect(at("one: deploying to local")).toBeLessThan(at("two: deployed as"));
    expect(at("three: deploying to local")).toBeGreaterThan(at("one: deployed as"));
    // Each line of a command's output names its environment.
    expect(up.stderr).toMatch(/^\s*one │ /m);
    expect(up.stderr).toMatch(/^\s*two │ /m);
    expect(containersOf(name)).toEqual([`${name}-one-a-1`, `${name}-three-c-1`, `${name}-two-b-1`]);

    const downAll = async () => {
      for (const env of ["three", "two", "one"])
        expect((await kaupang(["down", env, "--cwd", dir])).code, env).toBe(0);
    };
    await downAll();
    const serial = await kaupang(["up", "--solution", "all", "--concurrency", "1", "--cwd", dir]);
    expect(serial.code, serial.stderr).toBe(0);
    const s = (line: string) => serial.stderr.indexOf(line);
    expect(s("one: deployed as")).toBeGreaterThan(-1);
    expect(s("one: deployed as")).toBeLessThan(s("two: deploying to local"));
    expect(s("two: deployed as")).toBeLessThan(s("three: deploying to local"));
    await downAll();
    expect(containersOf(name)).toEqual([]);
  });

  it("a failure starts no new environment; the one running beside it finishes and is recorded", async () => {
    const name = fresh();
    const dir = project(
      name,
      {
        broken: slow("a", { healthy: false }),
        // Long enough that the failure is reported while it still deploys.
        steady: slow("b", { seconds: 6 }),
        later: slow("c", { dependsOn: "steady" }),
      },
      { solutions: { all: { version: "1.0.0", environments: ["broken", "steady", "later"] } } },
    );
    const up = await kaupang(["up", "--solution", "all", "--cwd", dir]);
    expect(up.code).toBe(1);
    expect(up.stderr).toContain("not deployed after the failure of broken: later");
    expect(up.stderr).toContain("steady: deployed as");
    expect(up.stderr).not.toContain("later: deploying");
    expect((await historyOf(dir, "steady")).map((r) => r.status)).toEqual(["succeeded"]);
    expect((await historyOf(dir, "broken")).map((r) => r.status)).toEqual(["failed"]);
    expect(await historyOf(dir, "later")).toEqual([]);
    expect(containersOf(name)).not.toContain(`${name}-later-c-1`);
    expect(containersOf(name)).toContain(`${name}-steady-b-1`);
  });
});
