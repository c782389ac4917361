/**
 * The load loop of bench/routes/run.sh as a process of its own: GETs with a
 * Host header to a loopback URL (test/e2e/support/load.ts), bounded in time
 * and count, until SIGTERM; then one line of JSON with the counts on stdout.
 *   npx jiti bench/routes/load.ts URL HOST [maxSeconds]
 */
import { startLoad } from "../../test/e2e/support/load.js";

const [url, host, maxSeconds = "900"] = process.argv.slice(2);
if (!url || !host) {
  console.error("usage: load.ts URL HOST [maxSeconds]");
  process.exit(2);
}
const load = startLoad({ url, host, concurrency: 2, pauseMs: 5, maxMs: Number(maxSeconds) * 1000 });
const report = async () => {
  console.log(JSON.stringify(await load.stop()));
  process.exit(0);
};
process.once("SIGTERM", report);
process.once("SIGINT", report);
// Ready once the loop runs: the caller waits for this file before it starts timing.
process.stderr.write("load: running\n");
await load.done;
await report();
