import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { groupAlive, processStart } from "../exec/processes.js";
import { ledgerAt } from "../ledger/ledger.js";
import { deployments } from "../ledger/record.js";
import { unlock } from "./locks.js";

/** A directory without a config: its state lives in .kaupang, target local. */
function site(lock?: unknown) {
  const cwd = testdir({});
  const file = join(cwd, ".kaupang/locks/api@local.lock");
  if (lock !== undefined) {
    mkdirSync(join(cwd, ".kaupang/locks"), { recursive: true });
    writeFileSync(file, typeof lock === "string" ? lock : JSON.stringify(lock));
  }
  return { cwd, file };
}
const deadPid = () => Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
const holder = { since: "2026-01-01T00:00:00.000Z", command: "kaupang up api", user: "ci" };

describe("kaupang unlock", () => {
  it("says when there is no lock", async () => {
    const { cwd } = site();
    expect((await unlock({ cwd, environment: "api" }))[0]).toMatchObject({ state: "none", removed: false });
  });

  it("clears a gone holder's lock after ending what it left running and closing its open deploy", async () => {
    const orphan = spawn("sh", ["-c", "sleep 30"], { detached: true, stdio: "ignore" });
    const exited = new Promise((resolve) => orphan.once("exit", resolve));
    const pid = deadPid();
    const { cwd, file } = site({
      ...holder,
      v: 2,
      pid,
      host: hostname(),
      children: [{ pgid: orphan.pid, start: processStart(orphan.pid!), command: "sh -c 'sleep 30'" }],
    });
    const ledger = ledgerAt(
      { cacheDir: join(cwd, ".kaupang"), remote: undefined },
      { environment: "api", target: "local" },
    );
    const started = await ledger.append({
      id: "20260101T000000Z-0001",
      at: "2026-01-01T00:00:00.000Z",
      project: "p",
      environment: "api",
      target: "local",
      backend: "compose",
      action: "up",
      status: "started",
      images: [],
    });
    const [result] = await unlock({ cwd, environment: "api" });
    await exited;
    expect(groupAlive(orphan.pid!)).toBe(false);
    expect(result).toMatchObject({
      state: "gone",
      holder: { pid },
      stopped: [`process group ${orphan.pid} (sh -c 'sleep 30'): stopped`],
      closed: [started.id],
      removed: true,
    });
    expect(existsSync(file)).toBe(false);
    expect(deployments((await ledger.read()).records)).toMatchObject([
      {
        id: started.id,
        status: "interrupted",
        error: expect.stringContaining(`no outcome was recorded: process ${pid} on ${hostname()} (ci)`),
      },
    ]);
  });

  it("refuses a lock held by a live process on this host unless --force, which leaves the process running", async () => {
    const { cwd, file } = site({
      ...holder,
      pid: process.pid,
      start: processStart(process.pid),
      host: hostname(),
    });
    await expect(unlock({ cwd, environment: "api" })).rejects.toMatchObject({
      code: "ERR_LOCK_HELD",
      message: expect.stringMatching(
        new RegExp(
          `^api@local is locked by process ${process.pid} on .* which is still running; nothing was changed$`,
        ),
      ),
      hint: "wait for it or stop it; to remove its lock anyway (it keeps running): kaupang unlock api --target local --force",
    });
    expect(existsSync(file)).toBe(true);
    expect((await unlock({ cwd, environment: "api", force: true }))[0]).toMatchObject({
      state: "live",
      removed: true,
    });
    expect(existsSync(file)).toBe(false);
  });

  it("clears a lock of another host, and an unreadable one, saying which it was", async () => {
    const other = site({ ...holder, pid: 1, host: "elsewhere" });
    expect((await unlock({ cwd: other.cwd, environment: "api" }))[0]).toMatchObject({
      state: "other-host",
      holder: { host: "elsewhere" },
      removed: true,
    });
    const garbled = site("");
    expect((await unlock({ cwd: garbled.cwd, environment: "api" }))[0]).toMatchObject({
      state: "unreadable",
      text: "",
      removed: true,
    });
    expect(existsSync(garbled.file)).toBe(false);
  });
});
