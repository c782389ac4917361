// Resolve N tags of bench/resolve to digests with at most C at once, through kaupang's resolver.
import { resolveAll } from "../../packages/core/dist/index.js";

const [n = "20", c = "16"] = process.argv.slice(2);
const registry = process.env.KAUPANG_TEST_REGISTRY ?? "127.0.0.1:5000";
const requests = Array.from({ length: Number(n) }, (_, i) => ({
  owner: `bench.s${i + 1}`,
  ref: `${registry}/bench/resolve:t${i + 1}`,
}));
const digests = await resolveAll(requests, { concurrency: Number(c) });
console.log(digests.size);
