// Generates the bench/plan fixture: 100 environments × 10 services, each
// environment depending on the previous one, services chained inside each,
// with catalog presets and secrets. TypeScript files, so transpiling counts.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const root = new URL("../generated/plan/", import.meta.url);
const envs = Number(process.argv[2] ?? 100);
const services = Number(process.argv[3] ?? 10);
rmSync(root, { recursive: true, force: true });
mkdirSync(new URL("environments/", root), { recursive: true });

writeFileSync(
  new URL("kaupang.config.ts", root),
  `import { defineConfig } from "@kaupang/core";
export default defineConfig({
  project: "bench",
  environments: "./environments",
  dockerRepository: "registry.example/bench",
  globalEnv: { TZ: "UTC" },
  catalog: { sources: [{ type: "file", path: "./catalog.json" }] },
  targets: { staging: { backend: "swarm" }, prod: { backend: "kubernetes" } },
});
`,
);
writeFileSync(
  new URL("catalog.json", root),
  JSON.stringify({
    services: Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [
        `preset${i}`,
        {
          image: `registry.example/presets/p${i}:1`,
          ports: [`${9000 + i}`],
          healthcheck: { test: ["CMD", "true"] },
        },
      ]),
    ),
  }),
);
for (let e = 0; e < envs; e++) {
  const name = `env-${String(e).padStart(3, "0")}`;
  const lines = [];
  for (let s = 0; s < services; s++) {
    const svc = `e${e}-s${s}`;
    const deps = s > 0 ? `, dependsOn: "e${e}-s${s - 1}"` : "";
    if (s % 5 === 0) {
      lines.push(`    "${svc}": use("preset${(e + s) % 5}", { env: { INDEX: "${s}" }${deps} }),`);
    } else {
      lines.push(
        `    "${svc}": { image: \`app-${s}:\${process.env.BENCH_TAG ?? "1.0.${s}"}\`, ports: ["${10000 + e * 10 + s}:8080"], env: { KEY: secret("BENCH_SECRET_${s}"), PLAIN: "v${s}" }${deps} },`,
      );
    }
  }
  const dependsOn = e > 0 ? `  dependsOn: "env-${String(e - 1).padStart(3, "0")}",\n` : "";
  writeFileSync(
    new URL(`environments/${name}.ts`, root),
    `import { defineEnvironment, secret, use } from "@kaupang/core";
export default defineEnvironment({
${dependsOn}  env: { ENVIRONMENT: "${name}" },
  services: {
${lines.join("\n")}
  },
});
`,
  );
}
console.error(`generated ${envs} environments × ${services} services in ${root.pathname}`);
