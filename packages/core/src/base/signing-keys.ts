/**
 * Ed25519 key files (node:crypto): PEM PKCS#8 private keys and SPKI public
 * keys, as `kaupang keygen` or OpenSSL writes them. A key is named by its id:
 * `sha256:` and the hex sha256 of its public key's SPKI DER bytes.
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { KaupangError } from "./errors.js";

export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  const der = publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}

/** The short form shown in tables: the first 12 hex digits. */
export const shortKeyId = (keyId: string): string => keyId.slice("sha256:".length, "sha256:".length + 12);

function readKeyFile(path: string, display: string): Buffer {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error("not a file");
    size = stat.size;
  } catch {
    throw new KaupangError("ERR_KEY", `${display}: no key file there`, {
      hint: "make a key pair with `kaupang keygen <path>` (or openssl genpkey -algorithm ed25519)",
    });
  }
  if (size > 64 * 1024) throw new KaupangError("ERR_KEY", `${display}: ${size} bytes is not a key file`);
  return readFileSync(path);
}

function requireEd25519(key: KeyObject, display: string): KeyObject {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new KaupangError(
      "ERR_KEY",
      `${display}: is a ${key.asymmetricKeyType ?? "symmetric"} key; bundles are signed with Ed25519 keys`,
      { hint: "make one with `kaupang keygen <path>` or openssl genpkey -algorithm ed25519" },
    );
  }
  return key;
}

/** A PEM PKCS#8 Ed25519 private key; an encrypted one takes KAUPANG_SIGNING_KEY_PASSPHRASE. */
export function readPrivateKey(
  path: string,
  display = path,
  env: NodeJS.ProcessEnv = process.env,
): KeyObject {
  const pem = readKeyFile(path, display);
  let key: KeyObject;
  try {
    key = createPrivateKey({
      key: pem,
      format: "pem",
      ...(env.KAUPANG_SIGNING_KEY_PASSPHRASE ? { passphrase: env.KAUPANG_SIGNING_KEY_PASSPHRASE } : {}),
    });
  } catch (error) {
    const encrypted = pem.includes("ENCRYPTED");
    throw new KaupangError(
      "ERR_KEY",
      `${display}: ${encrypted ? "is encrypted and could not be opened" : "is not a PEM private key"} (${(error as Error).message.split("\n")[0]})`,
      encrypted ? { hint: "set KAUPANG_SIGNING_KEY_PASSPHRASE" } : {},
    );
  }
  return requireEd25519(key, display);
}

/** A PEM SPKI Ed25519 public key. */
export function readPublicKey(path: string, display = path): KeyObject {
  const pem = readKeyFile(path, display);
  if (pem.includes("PRIVATE KEY")) {
    throw new KaupangError("ERR_KEY", `${display}: is a private key; give the public key (.pub)`, {
      hint: "openssl pkey -in site.key -pubout -out site.pub",
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (error) {
    throw new KaupangError(
      "ERR_KEY",
      `${display}: is not a PEM public key (${(error as Error).message.split("\n")[0]})`,
    );
  }
  return requireEd25519(key, display);
}
