import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { json } from "../../support/testdir.js";
import { httpService, project, pushVersion } from "../support/fixture.js";
import {
  hostPort,
  hostProjectNames,
  lanGet,
  leftOn,
  onHost,
  requireHosts,
  type TestHost,
  waitLanHttp,
} from "../support/hosts.js";
import { kaupang } from "../support/kaupang.js";

let hosts: TestHost[] = [];
beforeAll(() => {
  hosts = requireHosts();
});
const fresh = hostProjectNames("fleet", () => hosts);

interface Status {
  environment: string;
  host?: string;
  state: string;
  drift: { service: string; kind: string; detail: string }[];
}

describe("several hosts per target (compose over ssh, one host after the other)", () => {
  it("deploys to each host in turn; a host whose healthcheck fails stops the run, naming it; status, history, --hosts and rollback per host; --rollback-on-failure restores the hosts done", async () => {
    const name = fresh();
    const [first, second] = [hosts[1]!, hosts[2]!];
    const port = hostPort();
    const registry = process.env.KAUPANG_TEST_REGISTRY!;
    const image = (v: string) => `${registry}/${name}/web:${v}`;
    pushVersion(image("1"), "one");
    pushVersion(image("2"), "two");
    // Version two needs a file on its host (/etc/docker, read-only): only the first host has it.
    const marker = `kaupang-e2e-${name}`;
    const write = onHost(first, [
      "run",
      "--rm",
      "-v",
      "/etc/docker:/hostetc",
      process.env.KAUPANG_TEST_BASE_IMAGE!,
      "touch",
      `/hostetc/${marker}`,
    ]);
    expect(write.code, write.err).toBe(0);
    const v1 = { services: { web: { ...httpService(port), image: image("1") } } };
    const v2 = {
      services: {
        web: {
          ...httpService(port),
          image: image("2"),
          volumes: ["/etc/docker:/hostetc:ro"],
          healthcheck: {
            test: ["CMD-SHELL", `test -f /hostetc/${marker} && wget -q -O /dev/null http://127.0.0.1:8080/`],
            interval: "1s",
            retries: 3,
          },
        },
      },
    };
    const dir = project(name, { app: v1 }, { targets: { fleet: { hosts: [first.url, second.url] } } });
    const run = (...args: string[]) => kaupang([...args, "--target", "fleet", "--cwd", dir]);
    try {
      const up = await run("up", "app");
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain(`host 1/2: ${first.url}`);
      expect(up.stderr).toContain(`host 2/2: ${second.url}`);
      // Lines are prefixed with environment@host, and the first host is done before the second starts.
      const onFirst = up.stderr.indexOf(`app@${first.address}: deployed as`);
      const onSecond = up.stderr.indexOf(`app@${second.address}: deploying to fleet`);
      expect(onFirst).toBeGreaterThan(-1);
      expect(onSecond).toBeGreaterThan(onFirst);
      expect(up.stderr).toContain(
        `app@${second.address} │ $ docker --host ${second.url} compose -p ${name}-app`,
      );
      for (const host of [first, second])
        expect(await waitLanHttp(`http://${host.address}:${port}/version`)).toBe("one");
      expect(leftOn(undefined, name), "nothing on the local engine").toEqual([]);

      const again = await run("up", "app");
      expect(again.stderr.match(/unchanged: nothing to apply/g)).toHaveLength(2);

      writeFileSync(join(dir, "environments/app.json"), json(v2));
      const failed = await run("up", "app");
      expect(failed.code).toBe(1);
      expect(failed.stderr).toContain(`error: host ${second.url}: app: service web is unhealthy`);
      expect(failed.stderr).toContain(
        `up stopped at ${second.url}; done before it: ${first.url}; not started: none`,
      );
      // The logs command the failure ends with names the host it failed on, and works as printed.
      expect(failed.stderr).toContain(`kaupang logs app web --target fleet --hosts ${second.address}`);
      const logs = await run("logs", "app", "web", "--hosts", second.address);
      expect(logs.code, logs.stderr).toBe(0);
      expect(await waitLanHttp(`http://${first.address}:${port}/version`)).toBe("two");

      const status = await run("status", "--output", "json");
      expect(status.code).toBe(3);
      const byHost = Object.fromEntries((JSON.parse(status.stdout) as Status[]).map((s) => [s.host, s]));
      expect(byHost[first.url]).toMatchObject({ state: "ok", drift: [] });
      // The second host's last good deploy is version one; it runs two, unhealthy.
      expect(byHost[second.url]!.state).toBe("drifted");
      expect(byHost[second.url]!.drift.map((d: { kind: string }) => d.kind)).toContain("image");
      const text = await run("status");
      expect(text.stdout).toContain(`app@fleet on ${first.url}: ok`);
      expect(text.stdout).toContain(`app@fleet on ${second.url}: drifted`);

      const history = await run("history", "app", "--output", "json");
      const lines = (JSON.parse(history.stdout) as { host: string; status: string }[]).map(
        (r) => `${r.host} ${r.status}`,
      );
      expect(lines.filter((l) => l.startsWith(first.url))).toEqual([
        `${first.url} succeeded`,
        `${first.url} unchanged`,
        `${first.url} succeeded`,
      ]);
      expect(lines.filter((l) => l.startsWith(second.url))).toEqual([
        `${second.url} succeeded`,
        `${second.url} unchanged`,
        `${second.url} failed`,
      ]);
      const table = await run("history", "app");
      expect(table.stdout).toMatch(/^ {2}ID +HOST +TIME/);

      // --hosts: roll the second host back alone, then the whole target is as deployed again.
      const back = await run("rollback", "app", "--hosts", second.address);
      expect(back.code, back.stderr).toBe(0);
      expect(back.stderr).not.toContain(first.url);
      expect(await waitLanHttp(`http://${second.address}:${port}/version`)).toBe("one");
      expect(lanGet(`http://${first.address}:${port}/version`).body).toBe("two");
      expect((await run("status")).code).toBe(0);

      // --rollback-on-failure: the first host back on version one too, then version two again:
      // the second host fails and restores itself, and the first host is rolled back to one.
      expect((await run("rollback", "app", "--hosts", first.address)).code).toBe(0);
      expect(await waitLanHttp(`http://${first.address}:${port}/version`)).toBe("one");
      const undone = await run("up", "app", "--rollback-on-failure");
      expect(undone.code).toBe(1);
      expect(undone.stderr).toContain(`app@${first.address}: deployed as`);
      expect(undone.stderr).toContain(`error: host ${second.url}: app: service web is unhealthy`);
      expect(undone.stderr).toContain(`app@${first.address}: the run failed on ${second.url}: restoring`);
      expect(undone.stderr).toContain(`restored the earlier version of app on ${first.url}`);
      for (const host of [first, second])
        expect(lanGet(`http://${host.address}:${port}/version`).body, host.url).toBe("one");
      const after = await run("history", "app", "--output", "json");
      const last = (host: TestHost) =>
        (JSON.parse(after.stdout) as { host: string; action: string; status: string; trigger?: string }[])
          .filter((r) => r.host === host.url)
          .slice(-2)
          .map((r) => `${r.action} ${r.status}${r.trigger ? " (trigger)" : ""}`);
      expect(last(first)).toEqual(["up succeeded", "rollback succeeded (trigger)"]);
      expect(last(second)).toEqual(["up failed", "rollback succeeded (trigger)"]);
      expect((await run("status")).code).toBe(0);

      const down = await run("down", "app");
      expect(down.code, down.stderr).toBe(0);
      for (const host of [first, second]) expect(leftOn(host.context, name)).toEqual([]);
    } finally {
      onHost(first, [
        "run",
        "--rm",
        "-v",
        "/etc/docker:/hostetc",
        process.env.KAUPANG_TEST_BASE_IMAGE!,
        "rm",
        "-f",
        `/hostetc/${marker}`,
      ]);
    }
  });
});
