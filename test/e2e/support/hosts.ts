/**
 * The extra Docker hosts of test/e2e/harness/hosts-up.sh, as the e2e-hosts
 * tests see them: each a docker context over ssh and an address that exists
 * only inside the harness's network namespaces (HTTP to it goes through the
 * lan namespace, as ssh does through its ProxyCommand).
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { fail, sh, uniqueProject } from "./kaupang.js";

export interface TestHost {
  /** The docker context (ssh://root@address). */
  context: string;
  address: string;
  /** ssh://root@address, as DOCKER_HOST or in a target's hosts. */
  url: string;
}

/** The hosts from hosts.env; fails (never skips) when the harness is not loaded or a host does not answer. */
export function requireHosts(): TestHost[] {
  const addresses = (process.env.KAUPANG_TEST_HOSTS ?? "").split(" ").filter(Boolean);
  const contexts = (process.env.KAUPANG_TEST_HOST_CONTEXTS ?? "").split(" ").filter(Boolean);
  if (addresses.length < 2 || addresses.length !== contexts.length)
    fail("hosts.env is not loaded: run the e2e-hosts tier through `npm test` (test/e2e/harness/hosts-up.sh)");
  const user = process.env.KAUPANG_TEST_HOST_USER ?? "root";
  const hosts = addresses.map((address, i) => ({
    context: contexts[i]!,
    address,
    url: `ssh://${user}@${address}`,
  }));
  for (const host of hosts) {
    const info = sh(["docker", "--context", host.context, "info", "--format", "{{.Name}}"]);
    if (info.code !== 0 || info.out !== host.context)
      fail(`host ${host.context} (${host.url}) does not answer over ssh: ${info.err || info.out}`);
  }
  return hosts;
}

/**
 * A port to publish on a host: its engine is the harness's alone, so any port
 * is free unless an earlier run left something (random, so that does not matter).
 */
export function hostPort(): number {
  return 20000 + Math.floor(Math.random() * 10000);
}

/** `docker --context <host> …` */
export function onHost(host: Pick<TestHost, "context">, args: string[], env: Record<string, string> = {}) {
  return sh(["docker", "--context", host.context, ...args], { env });
}

/** GET from the hosts' network (the lan namespace); "" and the error on failure. */
export function lanGet(url: string): { code: number; body: string } {
  const netns = process.env.KAUPANG_TEST_LAN_NETNS ?? fail("KAUPANG_TEST_LAN_NETNS is not set");
  const r = sh(["nsenter", `--net=/run/netns/${netns}`, "curl", "-fsS", "-m", "3", url]);
  return { code: r.code, body: r.code === 0 ? r.out : r.err };
}

/** GET a URL on the hosts' network until it answers; returns the body. */
export async function waitLanHttp(url: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = lanGet(url);
  while (last.code !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    last = lanGet(url);
  }
  if (last.code !== 0) throw new Error(`${url} did not answer within ${timeoutMs}ms (${last.body})`);
  return last.body;
}

/**
 * A docker config of its own holding the harness's contexts and, if asked, a
 * login to the auth registry (so the user's config is never touched).
 */
const configs: string[] = [];
afterAll(() => {
  while (configs.length > 0) rmSync(configs.pop()!, { recursive: true, force: true });
});

export function dockerConfig(login: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-docker-config-"));
  configs.push(dir);
  const home = process.env.DOCKER_CONFIG ?? join(homedir(), ".docker");
  if (existsSync(join(home, "contexts")))
    cpSync(join(home, "contexts"), join(dir, "contexts"), { recursive: true });
  else mkdirSync(join(dir, "contexts"));
  // the compose plugin is found in the config dir too
  if (existsSync(join(home, "cli-plugins"))) symlinkSync(join(home, "cli-plugins"), join(dir, "cli-plugins"));
  writeFileSync(join(dir, "config.json"), "{}\n");
  if (login) {
    const registry = process.env.KAUPANG_TEST_AUTH_REGISTRY!;
    const r = sh(
      ["docker", "login", "-u", process.env.KAUPANG_TEST_AUTH_USER!, "--password-stdin", registry],
      { env: { DOCKER_CONFIG: dir }, input: process.env.KAUPANG_TEST_AUTH_PASSWORD! },
    );
    if (r.code !== 0) fail(`docker login ${registry}: ${r.err}`);
  }
  return dir;
}

/** What a project left on one engine (containers, services, networks by the project's label or name). */
export function leftOn(context: string | undefined, project: string): string[] {
  const docker = context ? ["docker", "--context", context] : ["docker"];
  const label = `label=dev.kaupang.project=${project}`;
  const lines = (r: { out: string }) => r.out.split("\n").filter(Boolean);
  const swarm = sh([...docker, "info", "--format", "{{.Swarm.ControlAvailable}}"]).out === "true";
  return [
    ...lines(sh([...docker, "ps", "-a", "--filter", label, "--format", "container {{.Names}}"])),
    ...(swarm
      ? lines(sh([...docker, "service", "ls", "--filter", label, "--format", "service {{.Name}}"]))
      : []),
    ...lines(sh([...docker, "network", "ls", "--format", "network {{.Name}}"])).filter(
      (n) => n === `network ${project}` || n.startsWith(`network ${project}-`),
    ),
  ];
}

/**
 * Remove whatever the projects left on the hosts, whatever state it is in:
 * a few listings per host (each docker call over ssh costs ~0.5 s), not per project.
 */
function cleanupOnHosts(hosts: TestHost[], projects: string[]): void {
  const ours = (name: string) => projects.some((p) => name === p || name.startsWith(`${p}-`));
  const lines = (r: { out: string }) => r.out.split("\n").filter(Boolean);
  for (const host of hosts) {
    const docker = ["docker", "--context", host.context];
    const manager = sh([...docker, "info", "--format", "{{.Swarm.ControlAvailable}}"]).out === "true";
    const leftovers = () => ({
      stacks: manager ? lines(sh([...docker, "stack", "ls", "--format", "{{.Name}}"])).filter(ours) : [],
      containers: lines(
        sh([
          ...docker,
          "ps",
          "-a",
          "--filter",
          "label=dev.kaupang.project",
          "--format",
          '{{.ID}} {{.Label "dev.kaupang.project"}}',
        ]),
      )
        .filter((l) => ours(l.split(" ")[1] ?? ""))
        .map((l) => l.split(" ")[0]!),
      networks: lines(sh([...docker, "network", "ls", "--format", "{{.Name}}"])).filter(ours),
    });
    let left = leftovers();
    for (const stack of left.stacks) sh([...docker, "stack", "rm", stack]);
    if (left.containers.length > 0) sh([...docker, "rm", "-f", ...left.containers]);
    // Stacks go in the background: wait for their task containers, then remove the networks.
    for (let i = 0; i < 60 && (left.stacks.length > 0 || left.containers.length > 0); i++) {
      left = leftovers();
      if (left.containers.length > 0) sh(["sleep", "1"]);
      else break;
    }
    for (let i = 0; i < 30 && left.networks.length > 0; i++) {
      for (const n of left.networks) sh([...docker, "network", "rm", n]);
      left = leftovers();
      if (left.networks.length > 0) sh(["sleep", "1"]);
    }
  }
}

/**
 * Run test/e2e/harness/hosts-up.sh again (it restarts only what is down), without
 * blocking the test worker meanwhile; its exit code and output's tail.
 */
export function hostsUp(): Promise<{ code: number; tail: string }> {
  const script = fileURLToPath(new URL("../harness/hosts-up.sh", import.meta.url));
  return new Promise((resolve) => {
    const child = spawn("bash", [script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, tail: out.split("\n").slice(-8).join("\n") }));
  });
}

/** Unique project names for one file; everything each left on the hosts is removed after the file. */
export function hostProjectNames(prefix: string, hosts: () => TestHost[]): () => string {
  const names: string[] = [];
  afterAll(() => cleanupOnHosts(hosts(), names));
  return () => {
    const name = uniqueProject(prefix);
    names.push(name);
    return name;
  };
}
