// Print each command's median (and mean) from hyperfine --export-json files.
import { readFileSync } from "node:fs";

for (const file of process.argv.slice(2)) {
  for (const r of JSON.parse(readFileSync(file, "utf8")).results) {
    const ms = (s) => `${(s * 1000).toFixed(0)} ms`;
    console.log(`${r.command}: median ${ms(r.median)}, mean ${ms(r.mean)} ± ${ms(r.stddev ?? 0)}`);
  }
}
