import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testdir } from "../../support/testdir.js";
import { kaupang, sh } from "../support/kaupang.js";
import {
  baseImage,
  context,
  deleteNamespaces,
  fresh,
  k8sProject,
  kubeconfig,
  kubectl,
  names,
  requireCluster,
  withInit,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const app = (env: Record<string, unknown> = {}) => ({
  app: {
    services: { web: withInit({ image: baseImage(), command: ["sleep", "3600"], ports: ["8080"], env }) },
  },
});
const up = (dir: string, env: Record<string, string> = {}) =>
  kaupang(["up", "app", "--target", "k8s", "--cwd", dir], { env });
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /^(error|hint): /.test(l));

/** A copy of the test kubeconfig, changed by `edit` (kubectl reads JSON kubeconfigs too). */
function kubeconfigCopy(edit: (config: KubeConfig) => void): string {
  const view = sh(["kubectl", "config", "view", "--raw", "--flatten", "-o", "json"], {
    env: { KUBECONFIG: kubeconfig() },
  });
  const config = JSON.parse(view.out) as KubeConfig;
  edit(config);
  const dir = testdir({});
  writeFileSync(join(dir, "kubeconfig"), JSON.stringify(config));
  return join(dir, "kubeconfig");
}
interface KubeConfig {
  clusters: { name: string; cluster: { server: string } }[];
  users: { name: string; user: Record<string, unknown> }[];
}

describe("kubernetes backend: Secret pre-flight (real API server)", () => {
  it("a missing Secret fails before anything is applied, naming the keys and the command that creates it", async () => {
    const name = fresh();
    const dir = k8sProject(name, app({ A: { $secret: "E2E_A" }, B: { $secret: "E2E_B" } }));
    // The values are in kaupang's environment (the generic pre-flight reads them there); the cluster has none.
    const r = await up(dir, { E2E_A: "a", E2E_B: "b" });
    expect(r.code).toBe(1);
    const kube = `KUBECONFIG=${kubeconfig()} kubectl --context ${context}`;
    expect(errorLines(r.stderr)).toEqual([
      `error: app: Secret ${name}-secrets in namespace ${name} (target k8s (context ${context})) does not exist; secret() needs E2E_A, E2E_B; nothing was deployed`,
      `hint: create it: ${kube} create namespace ${name} && ${kube} create secret generic ${name}-secrets -n ${name} --from-literal=E2E_A=… --from-literal=E2E_B=…`,
    ]);
    expect(r.stderr).not.toContain("apply");
    expect(kubectl("get", "namespace", name).code).toBe(1);
  });

  it("a Secret lacking a key fails listing only that key, and applies nothing", async () => {
    const name = fresh();
    const dir = k8sProject(name, app({ A: { $secret: "E2E_A" }, B: { $secret: "E2E_B" } }));
    expect(kubectl("create", "namespace", name).code).toBe(0);
    expect(
      kubectl("create", "secret", "generic", `${name}-secrets`, "-n", name, "--from-literal=E2E_A=x").code,
    ).toBe(0);
    const r = await up(dir, { E2E_A: "a", E2E_B: "b" });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      `error: app: Secret ${name}-secrets in namespace ${name} (target k8s (context ${context})) lacks E2E_B; nothing was deployed`,
      `hint: add the keys: KUBECONFIG=${kubeconfig()} kubectl --context ${context} patch secret ${name}-secrets -n ${name} --type=merge -p '{"stringData":{"E2E_B":"…"}}'`,
    ]);
    expect(names("deployment,service,job", name)).toEqual([]);

    // The command from the hint (with a value) is all it takes.
    expect(
      kubectl(
        "create",
        "secret",
        "generic",
        `${name}-secrets`,
        "-n",
        name,
        "--from-literal=E2E_B=y",
        "--dry-run=client",
        "-o",
        "name",
      ).code,
    ).toBe(0);
    expect(
      kubectl(
        "patch",
        "secret",
        `${name}-secrets`,
        "-n",
        name,
        "--type=merge",
        "-p",
        '{"stringData":{"E2E_B":"y"}}',
      ).code,
    ).toBe(0);
    const again = await up(dir, { E2E_A: "a", E2E_B: "b" });
    expect(again.code, again.stderr).toBe(0);
  });

  // Needs deploy/up.ts and deploy/rollback.ts to skip the process-environment secret
  // check for kubernetes (there the values live in the cluster Secret, which the backend checks).
  it("needs no secret() value in kaupang's own environment: the cluster Secret holds it", async () => {
    const name = fresh();
    const dir = k8sProject(name, app({ A: { $secret: "E2E_ONLY_IN_CLUSTER" } }));
    expect(kubectl("create", "namespace", name).code).toBe(0);
    const secret = `${name}-secrets`;
    expect(
      kubectl("create", "secret", "generic", secret, "-n", name, "--from-literal=E2E_ONLY_IN_CLUSTER=v").code,
    ).toBe(0);
    const unset = { E2E_ONLY_IN_CLUSTER: undefined };
    for (const command of [
      ["up", "app"],
      // An identical up would be "unchanged" (no deploy); forced, it gives rollback a target.
      ["up", "app", "--force"],
      ["rollback", "app"],
    ]) {
      const r = await kaupang([...command, "--target", "k8s", "--cwd", dir], { env: unset });
      expect(r.code, `${command.join(" ")}: ${r.stderr}`).toBe(0);
    }
    expect(names("deployment", name)).toEqual(["deployment.apps/web"]);
  });
});

describe("kubernetes backend: target errors are one line naming target and context (real API server)", () => {
  it("an unknown context", async () => {
    const name = fresh();
    const dir = k8sProject(name, app(), { kubeContext: "nope" });
    const r = await up(dir);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([
      `error: target k8s: kubectl context "nope" does not exist in ${kubeconfig()}`,
      "hint: contexts: kaupang-a, kaupang-b",
    ]);
    const down = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir]);
    expect(down.code).toBe(1);
    expect(errorLines(down.stderr)[0]).toBe(
      `error: target k8s: kubectl context "nope" does not exist in ${kubeconfig()}`,
    );
  });

  it("a kubeconfig file that does not exist", async () => {
    const name = fresh();
    const missing = join(testdir({}), "nope", "kubeconfig");
    const dir = k8sProject(name, app(), { kubeconfig: missing });
    const r = await up(dir);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)[0]).toBe(`error: target k8s: kubeconfig ${missing} does not exist`);
    expect(r.stderr).not.toContain("$ ");
  });

  it("an API server that does not answer", async () => {
    const name = fresh();
    const dead = kubeconfigCopy((c) => {
      for (const cluster of c.clusters) cluster.cluster.server = "https://127.0.0.1:1";
    });
    const dir = k8sProject(name, app(), { kubeconfig: dead });
    const r = await up(dir);
    expect(r.code).toBe(1);
    const [line] = errorLines(r.stderr);
    expect(line).toMatch(
      new RegExp(
        `^error: target k8s \\(context ${context}\\): the Kubernetes API server is unreachable: .*127\\.0\\.0\\.1:1.*refused`,
      ),
    );
  });

  it("credentials that RBAC denies", async () => {
    const name = fresh();
    // The admin certificate, impersonating a user no role binding mentions.
    const denied = kubeconfigCopy((c) => {
      for (const user of c.users) user.user.as = "kaupang-e2e-nobody";
    });
    const dir = k8sProject(name, app(), { kubeconfig: denied });
    const r = await up(dir);
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)[0]).toMatch(
      new RegExp(
        `^error: target k8s \\(context ${context}\\): access denied by the API server \\(RBAC\\): User "kaupang-e2e-nobody" cannot patch resource "namespaces"`,
      ),
    );
    expect(kubectl("get", "namespace", name).code).toBe(1);
  });
});
