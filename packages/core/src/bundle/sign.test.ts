import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testdir } from "../../../../test/support/testdir.js";
import { keyIdOf, readPrivateKey, readPublicKey } from "../base/signing-keys.js";
import { generateKeyFiles, signatureProblem, signedMessage, signManifest } from "./sign.js";

const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe("bundle signatures", () => {
  it("signs a manifest digest and verifies it with the public key", () => {
    const dir = testdir({});
    const made = generateKeyFiles(join(dir, "keys/site"));
    expect(statSync(made.privateKey).mode & 0o777).toBe(0o600);
    const signature = signManifest(digest("a"), readPrivateKey(made.privateKey));
    const publicKey = readPublicKey(made.publicKey);
    expect(signature.keyId).toBe(made.keyId);
    expect(keyIdOf(publicKey)).toBe(made.keyId);
    expect(signatureProblem(signature, digest("a"), publicKey)).toBeUndefined();
  });

  it("names which check fails: another key, changed after signing, altered signature", () => {
    const dir = testdir({});
    const site = generateKeyFiles(join(dir, "site"));
    const other = generateKeyFiles(join(dir, "other"));
    const signature = signManifest(digest("a"), readPrivateKey(other.privateKey));
    const sitePub = readPublicKey(site.publicKey);
    expect(signatureProblem(signature, digest("a"), sitePub)).toEqual({
      field: "keyId",
      message: `signed by another key: ${other.keyId}, not ${site.keyId}`,
    });
    const own = signManifest(digest("a"), readPrivateKey(site.privateKey));
    expect(signatureProblem(own, digest("b"), sitePub)?.field).toBe("manifestDigest");
    expect(signatureProblem(own, digest("b"), sitePub)?.message).toContain(
      "the bundle changed after signing",
    );
    // A forger who rewrites manifestDigest cannot make the signature match it.
    const forged = { ...own, manifestDigest: digest("b") };
    expect(signatureProblem(forged, digest("b"), sitePub)?.field).toBe("signature");
    const flipped = Buffer.from(own.signature, "base64");
    flipped[0]! ^= 1;
    expect(
      signatureProblem({ ...own, signature: flipped.toString("base64") }, digest("a"), sitePub)?.field,
    ).toBe("signature");
  });

  it("never overwrites a key", () => {
    const dir = testdir({});
    generateKeyFiles(join(dir, "site"));
    expect(() => generateKeyFiles(join(dir, "site"))).toThrow(
      /site\.key: exists; a key is never overwritten/,
    );
  });

  it("refuses keys that are not Ed25519, or the wrong half", () => {
    const dir = testdir({});
    const made = generateKeyFiles(join(dir, "site"));
    expect(() => readPublicKey(made.privateKey, "keys/site.key")).toThrow(
      "keys/site.key: is a private key; give the public key (.pub)",
    );
    writeFileSync(join(dir, "junk.pub"), "hello");
    expect(() => readPublicKey(join(dir, "junk.pub"), "junk.pub")).toThrow(
      /junk.pub: is not a PEM public key/,
    );
    expect(() => readPublicKey(join(dir, "none.pub"), "none.pub")).toThrow("none.pub: no key file there");
  });

  it("works with keys OpenSSL makes, and OpenSSL verifies what kaupang signs", () => {
    if (spawnSync("openssl", ["version"]).status !== 0) return;
    const dir = testdir({});
    const key = join(dir, "site.key");
    const pub = join(dir, "site.pub");
    expect(spawnSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key]).status).toBe(0);
    expect(spawnSync("openssl", ["pkey", "-in", key, "-pubout", "-out", pub]).status).toBe(0);
    const signature = signManifest(digest("c"), readPrivateKey(key));
    expect(signatureProblem(signature, digest("c"), readPublicKey(pub))).toBeUndefined();
    writeFileSync(join(dir, "message"), signedMessage(digest("c")));
    writeFileSync(join(dir, "sig"), Buffer.from(signature.signature, "base64"));
    const verified = spawnSync(
      "openssl",
      [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub,
        "-rawin",
        "-in",
        join(dir, "message"),
        "-sigfile",
        join(dir, "sig"),
      ],
      { encoding: "utf8" },
    );
    expect(verified.stdout.trim()).toBe("Signature Verified Successfully");
    expect(readFileSync(pub, "utf8")).toContain("BEGIN PUBLIC KEY");
  });
});
