// Grow a history to N records in local files, starting from an export of a real
// deploy (`kaupang ledger export`): its records byte for byte, then copies of its
// started + succeeded pair under new ids. `ledger export --state local` and
// `ledger import` then move the whole history onto the target.
//
//   node bench/target-state/fill.mjs <export.json> <cacheDir> <N>
import { readFileSync } from "node:fs";
import { ledgerAt } from "../../packages/core/dist/index.js";

const [file, cacheDir, count = "1000"] = process.argv.slice(2);
const base = JSON.parse(readFileSync(file, "utf8"));
const ledger = ledgerAt(
  { cacheDir, remote: undefined },
  { environment: base.environment, target: base.target },
  { kaupangVersion: "bench" },
);
for (const [digest, text] of Object.entries(base.units)) await ledger.store.putUnit(digest, text);
if ((await ledger.read()).records.length === 0) await ledger.appendLines(base.records);
const pair = base.records.slice(-2).map((line) => {
  const { v: _v, seq: _s, prev: _p, hash: _h, by: _b, kaupang: _k, torn: _t, ...entry } = JSON.parse(line);
  return entry;
});
let seq = (await ledger.read()).records.length;
for (let i = 0; seq < Number(count); i++) {
  const id = `20260101T000000Z-${String(i).padStart(4, "0")}`;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  for (const entry of pair) {
    if (seq >= Number(count)) break;
    await ledger.append({ ...entry, id, at, ...(entry.endedAt ? { endedAt: at } : {}) });
    seq++;
  }
}
console.log(`${base.environment}@${base.target}: ${seq} records in ${cacheDir}`);
