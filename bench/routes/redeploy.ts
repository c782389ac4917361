/**
 * The routed-redeploy benchmark (bench/routes/run.sh): the same busybox
 * httpd service deployed two ways — routed through the proxy (blue/green),
 * and plain with a published port — then redeployed `count` times each with
 * a new image under load. Prints time per redeploy and failed requests.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLoad } from "../../test/e2e/support/load.js";

const [scratch = "/tmp/kaupang-bench-routes", countText = "10"] = process.argv.slice(2);
const count = Number(countText);
const registry = process.env.KAUPANG_TEST_REGISTRY ?? "127.0.0.1:5000";
const base = process.env.KAUPANG_TEST_BASE_IMAGE_PUSHED ?? `${registry}/kaupang-test/busybox:latest`;
const proxyImage = process.env.KAUPANG_TEST_PROXY_IMAGE ?? `${registry}/kaupang-test/caddy:2`;
const kaupang = fileURLToPath(new URL("../../packages/cli/bin/kaupang.mjs", import.meta.url));
const image = `${registry}/kroute-bench/web:live`;
const proxy = {
  name: "kroute-proxy-bench",
  image: proxyImage,
  httpPort: 19480,
  httpsPort: 19443,
  adminAddress: "127.0.0.1:19419",
};
const host = "bench.kroute.test";
const plainPort = 19482;

function run(argv: string[], input?: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", input });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function push(version: number): void {
  run(["docker", "build", "-q", "-t", image, "-"], `FROM ${base}\nRUN echo ${version} > /www/version\n`);
  run(["docker", "push", "-q", image]);
}

function projectDir(name: string, service: Record<string, unknown>): string {
  const dir = join(scratch, name);
  mkdirSync(join(dir, "environments"), { recursive: true });
  writeFileSync(
    join(dir, "kaupang.config.json"),
    JSON.stringify({ project: name, environments: "./environments", targets: { local: { proxy } } }),
  );
  writeFileSync(join(dir, "environments/app.json"), JSON.stringify({ services: { web: service } }));
  return dir;
}

const web = {
  image,
  command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
  healthcheck: {
    test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
    interval: "1s",
    retries: 30,
  },
  compose: { init: true },
};

async function scenario(name: string, dir: string, url: string, extraArgs: string[]) {
  const load = startLoad({ url, host, concurrency: 2, pauseMs: 5, maxMs: 15 * 60_000 });
  const times: number[] = [];
  for (let i = 1; i <= count; i++) {
    push(1000 + i);
    const started = performance.now();
    run(["node", kaupang, "up", "app", "-q", ...extraArgs, "--cwd", dir]);
    times.push(performance.now() - started);
  }
  const result = await load.stop();
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const sd = Math.sqrt(times.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, times.length - 1));
  const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  console.log(
    `${name}: ${count} redeploys, per redeploy median ${(median / 1000).toFixed(2)} s, mean ${(mean / 1000).toFixed(2)} ± ${(sd / 1000).toFixed(2)} s; ` +
      `${result.requests} requests in ${(result.durationMs / 1000).toFixed(1)} s, ${result.failed} failed ${JSON.stringify(result.failures)}`,
  );
}

const routed = projectDir("kroute-bench-routed", { ...web, ports: ["8080"], http: host });
const plain = projectDir("kroute-bench-plain", { ...web, ports: [`${plainPort}:8080`] });
try {
  push(1000);
  run(["node", kaupang, "up", "app", "-q", "--cwd", routed]);
  run(["node", kaupang, "up", "app", "-q", "--cwd", plain]);
  console.log(`machine: ${execFileSync("nproc").toString().trim()} cores, node ${process.version}`);
  await scenario("routed (blue/green, via the proxy)", routed, `http://127.0.0.1:${proxy.httpPort}/`, []);
  await scenario("plain kaupang up --force (published port)", plain, `http://127.0.0.1:${plainPort}/`, [
    "--force",
  ]);
} finally {
  spawnSync("node", [kaupang, "down", "app", "-q", "--cwd", routed]);
  spawnSync("node", [kaupang, "down", "app", "-q", "--cwd", plain]);
  spawnSync("docker", ["rm", "-f", proxy.name]);
  spawnSync("docker", ["volume", "rm", "-f", `${proxy.name}-data`, `${proxy.name}-config`]);
}
