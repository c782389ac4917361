// Time kaupang's resolver in process: N tags of bench/resolve at REGISTRY,
// one at a time and 16 at a time, RUNS times each (a fresh resolver per run,
// so every run pays the registry probe). Prints a markdown table of medians.
import { resolveAll } from "../../packages/core/dist/index.js";

const [registry, n = "20", runs = "15"] = process.argv.slice(2);
const requests = Array.from({ length: Number(n) }, (_, i) => ({
  owner: `bench.s${i + 1}`,
  ref: `${registry}/bench/resolve:t${i + 1}`,
}));

async function time(concurrency) {
  const start = performance.now();
  const digests = await resolveAll(requests, { concurrency });
  if (digests.size !== requests.length) throw new Error(`resolved ${digests.size} of ${requests.length}`);
  return performance.now() - start;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await time(16); // warm the registry's caches
const samples = { 1: [], 16: [] };
for (let i = 0; i < Number(runs); i++) for (const c of [1, 16]) samples[c].push(await time(c));
const seq = median(samples[1]);
const conc = median(samples[16]);
console.log(
  `| ${registry} | ${n} | ${seq.toFixed(1)} ms | ${conc.toFixed(1)} ms | ${(seq / conc).toFixed(2)}× |`,
);
