import { afterEach, describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { interrupt, resetInterrupt } from "../base/interrupt.js";
import { loadModuleFile } from "./load.js";
import { setConfigLoadTimeout } from "./load-worker.js";

afterEach(() => {
  setConfigLoadTimeout(undefined);
  resetInterrupt();
});

const load = (source: string, name = "kaupang.config.ts") =>
  loadModuleFile(`${testdir({ [name]: source })}/${name}`, name);

describe("config files load in a worker with a deadline", () => {
  it("returns the default export as plain data", async () => {
    await expect(
      load(
        'import { secret } from "@kaupang/core";\nexport default { project: "p", env: { A: secret("X") } };',
      ),
    ).resolves.toEqual({ project: "p", env: { A: { $secret: "X" } } });
  });

  it("stops a config that never ends its loop, naming the file", async () => {
    setConfigLoadTimeout(500);
    const began = Date.now();
    await expect(load("while (true) {}\nexport default {};")).rejects.toMatchObject({
      code: "ERR_CONFIG_TIMEOUT",
      message:
        "kaupang.config.ts did not finish loading within 500ms (a loop that never ends, or an await that never settles?); stopped it",
    });
    expect(Date.now() - began).toBeLessThan(3000);
    // The next load starts a new worker.
    setConfigLoadTimeout(undefined);
    await expect(load('export default { project: "after" };')).resolves.toEqual({ project: "after" });
  });

  it("stops a top-level await that never settles", async () => {
    setConfigLoadTimeout(500);
    await expect(
      load("await new Promise(() => {});\nexport default {};", "kaupang.config.mjs"),
    ).rejects.toThrow("kaupang.config.mjs did not finish loading within 500ms");
  });

  it("an interrupt stops the load at once with the signal's exit code", async () => {
    const loading = load("while (true) {}\nexport default {};");
    setTimeout(() => interrupt("SIGTERM"), 300);
    await expect(loading).rejects.toMatchObject({
      code: "ERR_INTERRUPTED",
      exitCode: 143,
      message: expect.stringMatching(
        /^interrupted \(SIGTERM\) while loading kaupang\.config\.ts \(not finished after \d+\.\ds\); stopped it$/,
      ),
    });
  });

  it("passes errors and functions back so they are reported as before", async () => {
    await expect(load("throw new TypeError('nope');\nexport default {};")).rejects.toThrow(
      "kaupang.config.ts:1: TypeError: nope",
    );
    const value = (await load("export default { project: () => 'p' };")) as { project: unknown };
    expect(typeof value.project).toBe("function");
  });
});
