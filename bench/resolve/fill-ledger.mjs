// Fill app@local's ledger up to N records, then time one more append and a full verify.
import { Ledger } from "../../packages/core/dist/index.js";

const [cacheDir, target = "10000"] = process.argv.slice(2);
const ledger = new Ledger(cacheDir, "app", "local");
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
let count = ledger.read().records.length;
while (count < Number(target) - 1) ledger.append(await entry(count++));
const began = process.hrtime.bigint();
ledger.append(await entry(count++));
const appendMs = Number(process.hrtime.bigint() - began) / 1e6;
const v0 = process.hrtime.bigint();
ledger.verify();
const verifyMs = Number(process.hrtime.bigint() - v0) / 1e6;
console.log(`records=${count} append_ms=${appendMs.toFixed(2)} verify_ms=${verifyMs.toFixed(1)}`);
