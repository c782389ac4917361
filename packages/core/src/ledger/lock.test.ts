import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { exec } from "../exec/exec.js";
import { groupAlive, processStart } from "../exec/processes.js";
import { acquireLock, readLock } from "./lock.js";
import { fileStore } from "./store.js";

const dirs: string[] = [];
afterEach(() =>
  dirs.splice(0).forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  }),
);
const storeIn = () => {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-lock-"));
  dirs.push(dir);
  return { dir, store: fileStore(dir, { environment: "api", target: "local" }, { root: dir }) };
};
const lockFile = (dir: string) => join(dir, "locks", "api@local.lock");
const options = { what: "api@local", command: "kaupang up api", pollMs: 50 };

/** A pid that ran and is gone. */
function deadPid(): number {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}

describe("lock", () => {
  it("records who holds it: pid, process group, start time, host, user, since, command", async () => {
    const { dir, store } = storeIn();
    const lock = await acquireLock(store, { ...options, timeoutMs: 1000 });
    const held = JSON.parse(readFileSync(lockFile(dir), "utf8"));
    expect(held).toMatchObject({
      v: 2,
      pid: process.pid,
      host: hostname(),
      user: expect.any(String),
      since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      command: "kaupang up api",
      children: [],
    });
    expect(held.pgid).toEqual(expect.any(Number));
    expect(held.start).toBe(processStart(process.pid));
    await lock.release();
    expect((await readLock(store)).kind).toBe("none");
  });

  it("makes a second holder wait, then fail naming the first and the unlock command", async () => {
    const { store } = storeIn();
    const first = await acquireLock(store, { ...options, timeoutMs: 1000 });
    const second = acquireLock(store, { ...options, command: "x", timeoutMs: 300 });
    await expect(second).rejects.toThrow(
      new RegExp(
        `api@local is being deployed by process ${process.pid} on .+ running \`kaupang up api\` since .+; gave up waiting after 0s`,
      ),
    );
    await expect(second).rejects.toMatchObject({
      hint: "if that process is stuck, stop it; if it is gone, run: kaupang unlock api --target local",
    });
    await first.release();
    await (await acquireLock(store, { ...options, timeoutMs: 300 })).release();
  });

  it("keeps the process groups of the children it starts in the lock", async () => {
    const { dir, store } = storeIn();
    const lock = await acquireLock(store, { ...options, timeoutMs: 1000 });
    const running = exec(["sh", "-c", "sleep 0.5"]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const children = JSON.parse(readFileSync(lockFile(dir), "utf8")).children;
    expect(children).toEqual([
      { pgid: expect.any(Number), start: expect.any(Number), command: "sh -c 'sleep 0.5'" },
    ]);
    await running;
    await lock.release();
  });

  it("takes over a lock whose holder is gone, ending the children it left running first", async () => {
    const { dir, store } = storeIn();
    // A child of the dead holder, in a process group of its own, still running.
    const orphan = spawn("sh", ["-c", "sleep 30"], { detached: true, stdio: "ignore" });
    const pgid = orphan.pid!;
    const exited = new Promise((resolve) => orphan.once("exit", resolve));
    mkdirSync(join(dir, "locks"), { recursive: true });
    const dead = deadPid();
    writeFileSync(
      lockFile(dir),
      JSON.stringify({
        v: 2,
        pid: dead,
        host: hostname(),
        since: "2026-01-01T00:00:00.000Z",
        command: "kaupang up api",
        children: [{ pgid, start: processStart(pgid), command: "sh -c 'sleep 30'" }],
      }),
    );
    const events: string[] = [];
    const lock = await acquireLock(store, {
      ...options,
      timeoutMs: 5000,
      events: (e) => events.push("message" in e ? e.message : e.type),
    });
    await exited;
    expect(groupAlive(pgid)).toBe(false);
    expect(lock.tookOverFrom?.pid).toBe(dead);
    expect(events).toEqual([
      `taking over the lock of api@local: process ${dead} on ${hostname()} running \`kaupang up api\` since 2026-01-01T00:00:00.000Z is gone; first ended what it left running: process group ${pgid} (sh -c 'sleep 30'): stopped`,
    ]);
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("also ends what a gone holder started just before it died, found by its run tag: the group a tagged leader leads, else the process alone", async () => {
    const { dir, store } = storeIn();
    const dead = deadPid();
    const tag = `KAUPANG_RUN=${dead}.4242`;
    const env = { ...process.env, KAUPANG_RUN: `${dead}.4242` };
    // Started in a group of its own (as kaupang starts every child), not yet in the lock.
    const leader = spawn("sh", ["-c", "sleep 30"], { detached: true, stdio: "ignore", env });
    // Started in this test's own group: only the process may be stopped, never the group.
    const member = spawn("sleep", ["30"], { stdio: "ignore", env });
    const untagged = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
    const ended = (c: typeof leader) => new Promise((resolve) => c.once("exit", resolve));
    const [leaderExit, memberExit] = [ended(leader), ended(member)];
    mkdirSync(join(dir, "locks"), { recursive: true });
    writeFileSync(
      lockFile(dir),
      JSON.stringify({
        v: 2,
        pid: dead,
        start: 4242,
        host: hostname(),
        since: "2026-01-01T00:00:00.000Z",
        command: "kaupang up api",
        children: [],
      }),
    );
    const events: string[] = [];
    const lock = await acquireLock(store, {
      ...options,
      timeoutMs: 5000,
      events: (e) => events.push("message" in e ? e.message : e.type),
    });
    await Promise.all([leaderExit, memberExit]);
    expect(events[0]).toContain(
      `first ended what it left running: process group ${leader.pid} (sh -c sleep 30): stopped; process ${member.pid} (sleep 30): stopped`,
    );
    expect(tag).toContain(String(dead));
    expect(groupAlive(untagged.pid!)).toBe(true);
    untagged.kill();
    await lock.release();
  });

  it("reads a version 1 lock, and takes it over when its process is gone", async () => {
    const { dir, store } = storeIn();
    mkdirSync(join(dir, "locks"), { recursive: true });
    writeFileSync(
      lockFile(dir),
      JSON.stringify({ pid: deadPid(), host: hostname(), since: "then", command: "gone" }),
    );
    const lock = await acquireLock(store, { ...options, timeoutMs: 1000 });
    expect(JSON.parse(readFileSync(lockFile(dir), "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  it("never takes over a lock of another host: waits, then names it and the unlock command", async () => {
    const { dir, store } = storeIn();
    mkdirSync(join(dir, "locks"), { recursive: true });
    writeFileSync(
      lockFile(dir),
      JSON.stringify({ pid: 1, host: "elsewhere", user: "ci", since: "then", command: "kaupang up api" }),
    );
    await expect(acquireLock(store, { ...options, timeoutMs: 200 })).rejects.toMatchObject({
      message:
        "api@local is being deployed by process 1 on elsewhere (ci) running `kaupang up api` since then; gave up waiting after 0s",
      hint: "if no deploy is running on elsewhere, run: kaupang unlock api --target local",
    });
  });

  it("reports an unreadable lock file with the unlock command, never spins on it or removes it", async () => {
    const { dir, store } = storeIn();
    mkdirSync(join(dir, "locks"), { recursive: true });
    writeFileSync(lockFile(dir), "{");
    const events: string[] = [];
    await expect(
      acquireLock(store, {
        ...options,
        timeoutMs: 200,
        events: (event) => events.push("message" in event ? event.message : event.type),
      }),
    ).rejects.toMatchObject({
      message:
        'api@local is being deployed by another process (the lock locks/api@local.lock is unreadable: "{"); gave up waiting after 0s',
      hint: "if no deploy is running, run: kaupang unlock api --target local",
    });
    expect(events).toEqual(["waiting for api@local: locked (unreadable lock locks/api@local.lock)"]);
    expect(readFileSync(lockFile(dir), "utf8")).toBe("{");
  });
});
