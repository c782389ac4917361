// Fill app@local's ledger (local files under <cacheDir>) up to N records, then time
// one more append and a full verify.
//
//   node bench/resolve/fill-ledger.mjs <cacheDir> <N>
import { ledgerAt } from "../../packages/core/dist/index.js";

const [cacheDir, target = "10000"] = process.argv.slice(2);
if (!cacheDir) throw new Error("usage: fill-ledger.mjs <cacheDir> <N>");
const ledger = ledgerAt(
  { cacheDir, remote: undefined },
  { environment: "app", target: "local" },
  { kaupangVersion: "bench" },
);
const unit = {
  project: "benchledger",
  target: { name: "local", backend: "compose", namespace: "benchledger" },
  backend: "compose",
  pull: "missing",
  environment: {
    environment: "app",
    file: "environments/app.json",
    dependsOn: [],
    waves: [["web"]],
    runOnce: [],
    replicas: { web: 1 },
    images: [],
    secrets: [],
    artifact: { path: "a", content: "services: {}\n" },
    views: {},
    hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] },
    commands: [],
  },
};
const entry = async (i) => ({
  id: `20260101T000000Z-${String(i).padStart(4, "0")}`,
  at: new Date().toISOString(),
  project: "benchledger",
  environment: "app",
  target: "local",
  backend: "compose",
  action: "up",
  status: "succeeded",
  images: [{ service: "web", ref: "x:1", digest: `sha256:${"a".repeat(64)}`, pinned: true }],
  unit: await ledger.storeUnit(unit),
});
let count = (await ledger.read()).records.length;
while (count < Number(target) - 1) await ledger.append(await entry(count++));
const began = process.hrtime.bigint();
await ledger.append(await entry(count++));
const appendMs = Number(process.hrtime.bigint() - began) / 1e6;
const v0 = process.hrtime.bigint();
await ledger.verify();
const verifyMs = Number(process.hrtime.bigint() - v0) / 1e6;
console.log(`records=${count} append_ms=${appendMs.toFixed(2)} verify_ms=${verifyMs.toFixed(1)}`);
