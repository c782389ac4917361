import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clearSecretValues, redact } from "../base/redact.js";
import { fingerprintKeyFile, fingerprintSecrets, secretChanges } from "./secret-fingerprints.js";

const dirs: string[] = [];
afterEach(() => {
  clearSecretValues();
  dirs.splice(0).forEach((d) => {
    rmSync(d, { recursive: true, force: true });
  });
});
const home = () => {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-home-"));
  dirs.push(dir);
  return { HOME: dir, XDG_CONFIG_HOME: "" } as NodeJS.ProcessEnv;
};

describe("secret fingerprints", () => {
  it("are keyed hashes: stable for one key, different for another, never the value", () => {
    const env = home();
    const a = fingerprintSecrets({ API_KEY: "v1" }, { env });
    expect(a.values.API_KEY).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(fingerprintSecrets({ API_KEY: "v1" }, { env })).toEqual(a);
    expect(fingerprintSecrets({ API_KEY: "v2" }, { env }).values.API_KEY).not.toBe(a.values.API_KEY);
    const other = fingerprintSecrets({ API_KEY: "v1" }, { env: home() });
    expect(other.key).not.toBe(a.key);
    expect(other.values.API_KEY).not.toBe(a.values.API_KEY);
    expect(JSON.stringify(a)).not.toContain('v1"');
  });

  it("keep the key on the deploying side: a private file, or KAUPANG_SECRET_KEY", () => {
    const env = home();
    fingerprintSecrets({ A: "value" }, { env });
    expect(statSync(fingerprintKeyFile(env)).mode & 0o777).toBe(0o600);
    expect(fingerprintKeyFile(env)).toBe(join(env.HOME!, ".config/kaupang/secret-fingerprint.key"));
    const ci = { ...home(), KAUPANG_SECRET_KEY: "a-long-ci-provided-key" };
    const one = fingerprintSecrets({ A: "value" }, { env: ci });
    const two = fingerprintSecrets(
      { A: "value" },
      { env: { ...home(), KAUPANG_SECRET_KEY: "a-long-ci-provided-key" } },
    );
    expect(two).toEqual(one);
    expect(redact("key a-long-ci-provided-key and value")).toBe("key *** and ***");
  });

  it("say which secret changed, in words", () => {
    const env = home();
    const before = fingerprintSecrets({ API_KEY: "v1", DB: "d" }, { env });
    expect(secretChanges(before, fingerprintSecrets({ API_KEY: "v1", DB: "d" }, { env }))).toEqual([]);
    expect(secretChanges(before, fingerprintSecrets({ API_KEY: "v2", DB: "d", NEW: "n" }, { env }))).toEqual([
      "secret API_KEY changed",
      "secret NEW added",
    ]);
    expect(secretChanges(undefined, before)).toEqual([
      "secrets API_KEY, DB: the last deploy recorded no fingerprints, so they count as changed",
    ]);
    expect(secretChanges(before, fingerprintSecrets({ API_KEY: "v1" }, { env: home() }))).toEqual([
      "secret API_KEY: fingerprinted with another key (another machine, or KAUPANG_SECRET_KEY changed), so it counts as changed",
    ]);
    expect(secretChanges(before, undefined)).toEqual([]);
  });
});
