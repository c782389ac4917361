// Where a dry-run's time goes, phase by phase, in one process (median of RUNS
// fresh runs, each in a new Node process so module caches are cold).
// Usage: node bench/plan/profile.mjs [runs] [target]
import { execFileSync } from "node:child_process";

const [runs = "9", target = "local"] = process.argv.slice(2);
const fixture = new URL("../generated/plan/", import.meta.url).pathname;

// One measured run, in a child: prints the phase times as JSON.
const child = `
const t = [performance.now()];
const core = await import(${JSON.stringify(new URL("../../packages/core/dist/index.js", import.meta.url).href)});
t.push(performance.now());
const project = await core.loadProject(${JSON.stringify(fixture)});
t.push(performance.now());
const names = project.environmentNames();
for (const name of names) await project.loadEnvironment(name);
t.push(performance.now());
// the validation part of loading, on the same written objects
const { createJiti } = await import("jiti");
const jiti = createJiti(${JSON.stringify(fixture)}, { alias: { "@kaupang/core": ${JSON.stringify(new URL("../../packages/core/dist/define.js", import.meta.url).pathname)} } });
const written = [];
for (const name of names) written.push(await jiti.import(${JSON.stringify(fixture)} + "environments/" + name + ".ts", { default: true }));
const v0 = performance.now();
for (const w of written) core.EnvironmentSchema.parse(w);
const validation = performance.now() - v0;
t.push(performance.now());
const model = await core.loadModel(project, { environments: [names.at(-1)], target: ${JSON.stringify(target)} });
t.push(performance.now());
const plan = core.createPlan(model, {});
t.push(performance.now());
const json = JSON.stringify(plan);
t.push(performance.now());
console.log(JSON.stringify({
  "node start-up (before the first line)": t[0],
  "import @kaupang/core": t[1] - t[0],
  "load kaupang.config.ts": t[2] - t[1],
  "load 100 environment files (transpile + validate)": t[3] - t[2],
  "  of which zod validation": validation,
  "normalise (catalog presets, secrets, graph)": t[5] - t[4],
  "plan + render 100 artifacts": t[6] - t[5],
  "JSON of the plan": t[7] - t[6],
  "_bytes": json.length,
}));
`;
const samples = [];
for (let i = 0; i < Number(runs); i++)
  samples.push(
    JSON.parse(
      execFileSync(process.execPath, ["--input-type=module", "-e", child], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }),
    ),
  );
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| phase (target ${target}) | median ms |\n| --- | --- |`);
for (const key of Object.keys(samples[0]).filter((k) => !k.startsWith("_")))
  console.log(`| ${key} | ${median(samples.map((s) => s[key])).toFixed(1)} |`);
