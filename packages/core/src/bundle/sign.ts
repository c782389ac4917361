/**
 * Bundle signatures: Ed25519 (node:crypto) over the manifest digest, in
 * `bundle.sig` next to `bundle.json`. The manifest lists the sha256 of every
 * other file, so one signature over its digest covers the whole bundle.
 *
 * Keys are ordinary PEM files (base/signing-keys.ts) — PKCS#8 private, SPKI
 * public — as `kaupang keygen` or OpenSSL writes them:
 *
 *     openssl genpkey -algorithm ed25519 -out site.key
 *     openssl pkey -in site.key -pubout -out site.pub
 */
import { generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import * as z from "zod";
import { KaupangError } from "../base/errors.js";
import { keyIdOf } from "../base/signing-keys.js";

export { keyIdOf, readPrivateKey, readPublicKey } from "../base/signing-keys.js";

export const signatureName = "bundle.sig";

/** What is signed: a fixed context line and the manifest digest (a signature means nothing elsewhere). */
export const signedMessage = (manifestDigest: string): Buffer =>
  Buffer.from(`kaupang-bundle-signature-v1\n${manifestDigest}\n`, "utf8");

const digestPattern = /^sha256:[0-9a-f]{64}$/;

export const BundleSignatureSchema = z.strictObject({
  kind: z.literal("kaupang.bundle.signature"),
  version: z.literal(1),
  algorithm: z.literal("ed25519"),
  /** sha256 of the signing key's public SPKI DER bytes. */
  keyId: z.string().regex(digestPattern, "must be sha256: and 64 hex digits"),
  /** The sha256 of bundle.json that was signed. */
  manifestDigest: z.string().regex(digestPattern, "must be sha256: and 64 hex digits"),
  /** Ed25519 signature of signedMessage(manifestDigest), base64. */
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, "must be a base64 Ed25519 signature (64 bytes)"),
});

export type BundleSignature = z.infer<typeof BundleSignatureSchema>;

export function signManifest(manifestDigest: string, privateKey: KeyObject): BundleSignature {
  return {
    kind: "kaupang.bundle.signature",
    version: 1,
    algorithm: "ed25519",
    keyId: keyIdOf(privateKey),
    manifestDigest,
    signature: sign(null, signedMessage(manifestDigest), privateKey).toString("base64"),
  };
}

/** Why `signature` does not prove that `publicKey` signed `manifestDigest` (field and reason), or undefined if it does. */
export function signatureProblem(
  signature: BundleSignature,
  manifestDigest: string,
  publicKey: KeyObject,
): { field: keyof BundleSignature; message: string } | undefined {
  const expected = keyIdOf(publicKey);
  if (signature.keyId !== expected)
    return {
      field: "keyId",
      message: `signed by another key: ${signature.keyId}, not ${expected}`,
    };
  if (signature.manifestDigest !== manifestDigest)
    return {
      field: "manifestDigest",
      message: `the bundle changed after signing: the signature covers bundle.json ${signature.manifestDigest}, it is now ${manifestDigest}`,
    };
  const ok = verify(
    null,
    signedMessage(manifestDigest),
    publicKey,
    Buffer.from(signature.signature, "base64"),
  );
  if (!ok)
    return {
      field: "signature",
      message: `does not verify with key ${expected}: the signature was altered or made for other content`,
    };
  return undefined;
}

/**
 * Write a new key pair: `<base>.key` (private, mode 0600) and `<base>.pub`.
 * Never overwrites: both are created exclusively.
 */
export function generateKeyFiles(base: string): { privateKey: string; publicKey: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const files = { privateKey: `${base}.key`, publicKey: `${base}.pub` };
  for (const path of Object.values(files))
    if (existsSync(path)) throw new KaupangError("ERR_KEY", `${path}: exists; a key is never overwritten`);
  mkdirSync(dirname(base), { recursive: true });
  const write = (path: string, text: string, mode: number) => {
    let fd: number;
    try {
      fd = openSync(path, "wx", mode);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new KaupangError(
        "ERR_KEY",
        `${path}: ${code === "EEXIST" ? "exists; a key is never overwritten" : `cannot be created (${code})`}`,
      );
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  };
  write(files.privateKey, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), 0o600);
  write(files.publicKey, publicKey.export({ type: "spki", format: "pem" }).toString(), 0o644);
  return { ...files, keyId: keyIdOf(publicKey) };
}
