import { mkdtempSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { KaupangEvent } from "../base/events.js";
import { exec, execOk, runShell } from "./exec.js";

describe("exec", () => {
  it("captures stdout and stderr without the final newline, and never throws on a non-zero exit", async () => {
    const result = await exec(["sh", "-c", "printf 'one\\ntwo\\n'; echo oops >&2; exit 3"]);
    expect(result).toMatchObject({ exitCode: 3, stdout: "one\ntwo", stderr: "oops", timedOut: false });
  });

  it("reports each output line as an event, per stream, across chunk boundaries and without a final newline", async () => {
    const events: KaupangEvent[] = [];
    await exec(["sh", "-c", "printf 'al'; sleep 0.1; printf 'pha\\nbeta\\n'; echo warn >&2; printf tail"], {
      events: (e) => events.push(e),
      scope: "app",
    });
    expect(events[0]).toMatchObject({ type: "command", scope: "app" });
    const lines = events.filter((e) => e.type === "output");
    expect(lines.filter((e) => e.stream === "stdout").map((e) => e.line)).toEqual(["alpha", "beta", "tail"]);
    expect(lines.filter((e) => e.stream === "stderr").map((e) => e.line)).toEqual(["warn"]);
  });

  it("marks a quiet command and its output as detail (shown only with --verbose)", async () => {
    const events: KaupangEvent[] = [];
    const result = await exec(["echo", "hi"], { events: (e) => events.push(e), quiet: true });
    expect(result.stdout).toBe("hi");
    expect(result.command).toBe("echo hi");
    expect(events).toEqual([
      { type: "command", scope: undefined, command: "echo hi", detail: true },
      { type: "output", scope: undefined, stream: "stdout", line: "hi", detail: true },
    ]);
  });

  it("feeds input on stdin, runs in cwd, and adds or unsets environment variables", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "kaupang-exec-")));
    process.env.KAUPANG_EXEC_TEST_UNSET = "still here";
    try {
      const result = await exec(
        ["sh", "-c", 'cat; echo; pwd; echo "${EXTRA}-${KAUPANG_EXEC_TEST_UNSET:-gone}"'],
        { input: "from stdin", cwd: dir, env: { EXTRA: "added", KAUPANG_EXEC_TEST_UNSET: undefined } },
      );
      expect(result.stdout).toBe(`from stdin\n${dir}\nadded-gone`);
    } finally {
      delete process.env.KAUPANG_EXEC_TEST_UNSET;
    }
  });

  it("stops a command at its timeout and says so", async () => {
    const result = await exec(["sleep", "10"], { timeoutMs: 150 });
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBe(124);
    expect(result.signal).toBe("SIGTERM");
    expect(result.durationMs).toBeLessThan(5000);
  });

  it("names a missing tool with a hint, as a kaupang error", async () => {
    const missing = exec(["kaupang-no-such-tool-xyz", "--version"]);
    await expect(missing).rejects.toMatchObject({ code: "ERR_TOOL_NOT_FOUND" });
    await expect(exec(["oras-missing-for-test"])).rejects.toThrow(
      "`oras-missing-for-test` not found on PATH",
    );
  });

  it("runShell runs a command line through /bin/sh", async () => {
    const result = await runShell('a=kau; echo "${a}pang" | tr a-z A-Z');
    expect(result.stdout).toBe("KAUPANG");
    expect(result.command).toBe('a=kau; echo "${a}pang" | tr a-z A-Z');
  });

  it("execOk throws naming what failed and the last error line", async () => {
    await expect(execOk(["sh", "-c", "echo first >&2; echo last >&2; exit 1"], "probing")).rejects.toThrow(
      "probing failed: last",
    );
  });
});

describe("exec: secrets and process groups", () => {
  it("masks registered secret values in streamed lines, captured output and the display form", async () => {
    const { addSecretValues, clearSecretValues } = await import("../base/redact.js");
    addSecretValues(["p4ssw0rd-value"]);
    try {
      const events: KaupangEvent[] = [];
      const result = await exec(["sh", "-c", "echo out p4ssw0rd-value; echo err p4ssw0rd-value >&2"], {
        events: (e) => events.push(e),
      });
      expect(result.stdout).toBe("out ***");
      expect(result.stderr).toBe("err ***");
      expect(result.command).not.toContain("p4ssw0rd-value");
      expect(JSON.stringify(events)).not.toContain("p4ssw0rd-value");
      expect(events.filter((e) => e.type === "output").map((e) => e.line)).toEqual(["out ***", "err ***"]);
    } finally {
      clearSecretValues();
    }
  });

  it("starts a child in a process group of its own and publishes it while it runs", async () => {
    const { childGroups, onChildrenChange } = await import("./exec.js");
    let seen = childGroups();
    const stop = onChildrenChange(() => {
      seen = childGroups();
    });
    const result = await exec(["sh", "-c", "ps -o pgid= -p $$"]);
    stop();
    expect(seen).toHaveLength(1);
    expect(Number(result.stdout.trim())).toBe(seen[0]!.pgid);
    expect(seen[0]!.command).toBe("sh -c 'ps -o pgid= -p $$'");
    expect(childGroups()).toEqual([]);
  });
});
