// What signing and verifying cost in process, cold (the first call, as in one
// CLI run) and warm (median of 200): the same node:crypto calls as
// base/signing-keys.ts and bundle/sign.ts — read the PEM key, sign or verify
// the context line and manifest digest, compute the key id.
// Usage: node bench/bundle/sign.mjs
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from "node:crypto";
import { performance } from "node:perf_hooks";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const privatePem = privateKey.export({ type: "pkcs8", format: "pem" });
const publicPem = publicKey.export({ type: "spki", format: "pem" });
const digest = `sha256:${"ab".repeat(32)}`;
const message = Buffer.from(`kaupang-bundle-signature-v1\n${digest}\n`);
const keyId = (key) =>
  createHash("sha256")
    .update((key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "der" }))
    .digest("hex");

const signOnce = () => {
  const key = createPrivateKey({ key: privatePem, format: "pem" });
  return { keyId: keyId(key), signature: sign(null, message, key) };
};
const verifyOnce = (signature) => {
  const key = createPublicKey({ key: publicPem, format: "pem" });
  keyId(key);
  return verify(null, message, key, signature);
};

function time(fn) {
  const start = performance.now();
  const out = fn();
  return [performance.now() - start, out];
}

const [coldSign, signed] = time(signOnce);
const [coldVerify, ok] = time(() => verifyOnce(signed.signature));
if (!ok) throw new Error("signature did not verify");
const median = (fn) => {
  const runs = Array.from({ length: 200 }, () => time(fn)[0]).sort((a, b) => a - b);
  return runs[100];
};
const warmSign = median(signOnce);
const warmVerify = median(() => verifyOnce(signed.signature));
console.log(
  `sign:   cold ${coldSign.toFixed(2)} ms, warm median ${warmSign.toFixed(3)} ms\n` +
    `verify: cold ${coldVerify.toFixed(2)} ms, warm median ${warmVerify.toFixed(3)} ms`,
);
