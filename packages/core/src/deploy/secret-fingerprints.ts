/**
 * Secrets count as change without being written: a deploy records, for each
 * secret() it uses, HMAC-SHA256(key, name NUL value) — a keyed fingerprint.
 * The key stays on the deploying side: `KAUPANG_SECRET_KEY` when set (give CI
 * a stable one), else a random key created once in
 * `$XDG_CONFIG_HOME/kaupang/secret-fingerprint.key` (~/.config by default,
 * mode 0600). Without the key a fingerprint says nothing about the value, so
 * the ledger can be shared; records name the key by an id only.
 * A fingerprint made with another key cannot be compared: the secrets count
 * as changed (a redeploy, never a silently stale value).
 */
import { createHmac, hash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { Backend, BackendContext } from "../backends/backend.js";
import type { EventSink } from "../base/events.js";
import { addSecretValues } from "../base/redact.js";

export interface SecretFingerprints {
  /** Id of the key (a hash of it; never the key). */
  key: string;
  /** secret name → "hmac-sha256:<hex>". */
  values: Record<string, string>;
}

let cached: { key: Buffer; id: string; source: string; for: string } | undefined;

/** The file the fingerprint key is kept in when KAUPANG_SECRET_KEY is not set. */
export function fingerprintKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "kaupang", "secret-fingerprint.key");
}

function loadKey(env: NodeJS.ProcessEnv, events?: EventSink): { key: Buffer; id: string; source: string } {
  const given = env.KAUPANG_SECRET_KEY;
  let key: Buffer;
  let source: string;
  if (given) {
    key = Buffer.from(given, "utf8");
    addSecretValues([given]);
    source = "KAUPANG_SECRET_KEY";
  } else {
    const file = fingerprintKeyFile(env);
    source = file;
    try {
      key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
      if (key.length < 16) throw new Error("short key");
    } catch {
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600, flag: "wx" });
      } catch {
        // another run created it first, or the directory is read-only (handled below)
      }
      try {
        key = Buffer.from(readFileSync(file, "utf8").trim(), "hex");
      } catch {
        key = randomBytes(32);
        source = "a key for this run only";
        events?.({
          type: "warning",
          message: `cannot keep a secret fingerprint key in ${file}: using one for this run, so secrets count as changed next time (set KAUPANG_SECRET_KEY)`,
        });
      }
    }
  }
  const id = `k-${hash("sha256", Buffer.concat([Buffer.from("kaupang fingerprint key id\0"), key]), "hex").slice(0, 16)}`;
  return { key, id, source };
}

/** Fingerprint the values of secrets (name → value); the values are also registered for masking. */
export function fingerprintSecrets(
  values: Readonly<Record<string, string>>,
  options: { env?: NodeJS.ProcessEnv | undefined; events?: EventSink | undefined } = {},
): SecretFingerprints {
  const env = options.env ?? process.env;
  const wanted = `${env.KAUPANG_SECRET_KEY ?? ""}\0${fingerprintKeyFile(env)}`;
  if (cached?.for !== wanted) cached = { ...loadKey(env, options.events), for: wanted };
  addSecretValues(Object.values(values));
  const out: Record<string, string> = {};
  for (const name of Object.keys(values).sort()) {
    out[name] =
      `hmac-sha256:${createHmac("sha256", cached.key).update(`${name}\0${values[name]}`).digest("hex")}`;
  }
  return { key: cached.id, values: out };
}

/** name → fingerprint, for the Kubernetes pod-template checksum. */
export function fingerprintMap(
  fingerprints: SecretFingerprints | undefined,
): Record<string, string> | undefined {
  return fingerprints && Object.keys(fingerprints.values).length > 0 ? fingerprints.values : undefined;
}

/**
 * What changed between the fingerprints a deploy recorded and the ones of the
 * values now, in words ("secret API_KEY changed"); never a value. Empty when
 * nothing did.
 */
export function secretChanges(
  recorded: SecretFingerprints | undefined,
  now: SecretFingerprints | undefined,
): string[] {
  const names = Object.keys(now?.values ?? {});
  if (!now || names.length === 0) return [];
  if (!recorded) {
    return [
      `secret${names.length > 1 ? "s" : ""} ${names.join(", ")}: the last deploy recorded no fingerprint${names.length > 1 ? "s" : ""}, so ${names.length > 1 ? "they count" : "it counts"} as changed`,
    ];
  }
  if (recorded.key !== now.key) {
    return [
      `secret${names.length > 1 ? "s" : ""} ${names.join(", ")}: fingerprinted with another key (another machine, or KAUPANG_SECRET_KEY changed), so ${names.length > 1 ? "they count" : "it counts"} as changed`,
    ];
  }
  const changes: string[] = [];
  for (const name of names) {
    const before = recorded.values[name];
    if (before === undefined) changes.push(`secret ${name} added`);
    else if (before !== now.values[name]) changes.push(`secret ${name} changed`);
  }
  return changes;
}

/**
 * Fingerprints of the values of `names` now: from the target where the
 * backend keeps them (Kubernetes: the cluster Secret), else from `env`
 * (kaupang's environment). Undefined when the environment uses no secret().
 */
export async function currentFingerprints(
  backend: Backend,
  ctx: BackendContext,
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<SecretFingerprints | undefined> {
  if (names.length === 0) return undefined;
  const values = backend.secretValues
    ? await backend.secretValues(ctx, names)
    : Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  return fingerprintSecrets(values, { env, events: ctx.events });
}
