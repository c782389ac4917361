/**
 * state: "target" on Kubernetes (a Lease and Secrets in the namespace), with
 * two agents — two working copies, two cacheDirs — deploying one project
 * through the real API server: one history, one lock, rollback from either
 * side, applies that never overlap, a holder killed with -9 taken over once
 * its lease runs out, no secret value in the state, and a one-line error when
 * RBAC denies the state objects.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, testdir } from "../../support/testdir.js";
import {
  canUnshareHostname,
  expectNoOverlap,
  history,
  ok,
  overlapHooks,
  overlapLog,
  secondAgent,
  startElsewhere,
} from "../support/agents.js";
import { fail, kaupang } from "../support/kaupang.js";
import {
  baseImage,
  deleteNamespaces,
  fresh,
  getJson,
  k8sProject,
  kubectl,
  names,
  pushVersion,
  registry,
  requireCluster,
} from "./support.js";

beforeAll(async () => {
  await requireCluster();
  if (!canUnshareHostname())
    fail("these tests need `unshare -u` (root) to run a second kaupang as another host");
});
afterAll(deleteNamespaces);

const sleeper = (extra: Record<string, unknown> = {}) => ({
  image: baseImage(),
  command: ["sleep", "3600"],
  ...extra,
});
const onTarget = { state: "target" };
const imageOf = (ns: string) =>
  getJson("deployment", "-n", ns, "web").spec.template.spec.containers[0].image as string;

describe("state on the target: kubernetes", () => {
  it("agent B (fresh cacheDir) sees A's deploys, gets unchanged, rolls back; A sees B's rollback; no secret value in the state", async () => {
    const name = fresh("kstate");
    const value = `hidden-${Math.random().toString(36).slice(2)}`;
    const ref = `${registry()}/${name}/web:latest`;
    const a = k8sProject(
      name,
      { app: { services: { web: sleeper({ image: ref, env: { TOKEN: { $secret: "E2E_TOKEN" } } }) } } },
      onTarget,
    );
    const b = secondAgent(a);
    expect(kubectl("create", "namespace", name).code).toBe(0);
    expect(
      kubectl(
        "create",
        "secret",
        "generic",
        `${name}-secrets`,
        "-n",
        name,
        `--from-literal=E2E_TOKEN=${value}`,
      ).code,
    ).toBe(0);
    const env = { E2E_TOKEN: value };

    const one = pushVersion(ref, "one");
    expect((await kaupang(["up", "app", "--target", "k8s", "--cwd", a], { env })).code).toBe(0);
    const two = pushVersion(ref, "two");
    expect((await kaupang(["up", "app", "--target", "k8s", "--cwd", a], { env })).code).toBe(0);
    expect(imageOf(name)).toContain(two);
    const deployedByA = await history(a, "app", "k8s");
    expect(deployedByA.map((d) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
    ]);
    // The state is in the namespace: the Lease and labelled Secrets; A's cacheDir holds only a copy of units.
    expect(names("leases", name, "app.kubernetes.io/managed-by=kaupang")).toHaveLength(1);
    const state = getJson("secrets", "-n", name, "-l", "app.kubernetes.io/managed-by=kaupang").items as {
      type: string;
      data: Record<string, string>;
    }[];
    expect(state.length).toBeGreaterThanOrEqual(3); // the head and two units
    for (const secret of state) {
      expect(secret.type).toBe("kaupang.dev/state");
      for (const data of Object.values(secret.data))
        expect(Buffer.from(data, "base64").toString()).not.toContain(value);
    }
    rmSync(join(a, ".kaupang"), { recursive: true, force: true });

    const seenByB = await history(b, "app", "k8s");
    expect(seenByB.map((d) => d.id)).toEqual(deployedByA.map((d) => d.id));
    const unchanged = await kaupang(["up", "app", "--target", "k8s", "--cwd", b], { env });
    expect(unchanged.stderr).toMatch(/app: unchanged: nothing to apply/);
    const dry = await kaupang(["rollback", "app", "--dry-run", "--target", "k8s", "--cwd", b]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(deployedByA[0]!.id);
    await ok(b, "rollback", "app", "--target", "k8s");
    expect(imageOf(name)).toContain(one);

    const seenByA = await history(a, "app", "k8s");
    expect(seenByA.map((d) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "succeeded"],
      ["up", "unchanged"],
      ["rollback", "succeeded"],
    ]);
    expect(seenByA[3]!.rollbackOf).toBe(deployedByA[0]!.id);
    for (const dir of [a, b]) {
      const verified = await kaupang(["ledger", "verify", "--target", "k8s", "--cwd", dir]);
      expect(verified.stdout, verified.stderr).toBe(
        "app@k8s: 7 records, chain intact, head anchor matches\n",
      );
    }
  });

  it("A and B deploy at the same moment: the applies never overlap, both land in one chain", async () => {
    const name = fresh("kstate");
    const log = overlapLog();
    const a = k8sProject(name, { app: { services: { web: sleeper() }, hooks: overlapHooks(log) } }, onTarget);
    const b = secondAgent(a);
    const [ra, rb] = await Promise.all([
      kaupang(["up", "app", "--force", "--target", "k8s", "--cwd", a], { env: { KAUPANG_AGENT: "A" } }),
      kaupang(["up", "app", "--force", "--target", "k8s", "--cwd", b], { env: { KAUPANG_AGENT: "B" } }),
    ]);
    expect([ra.code, rb.code], ra.stderr + rb.stderr).toEqual([0, 0]);
    expect(ra.stderr + rb.stderr).toMatch(/waiting for app@k8s: locked by process \d+ on /);
    expectNoOverlap(log, ["A", "B"]);
    expect((await history(b, "app", "k8s")).map((e) => e.status)).toEqual(["succeeded", "succeeded"]);
    for (const dir of [a, b]) {
      const verify = await kaupang(["ledger", "verify", "--target", "k8s", "--cwd", dir]);
      expect(verify.stdout).toBe("app@k8s: 4 records, chain intact, head anchor matches\n");
    }
  });

  it("kill -9 of A holding the Lease: B waits, takes over when A's lease runs out, and A's run is interrupted", async () => {
    const name = fresh("kstate");
    const a = k8sProject(
      name,
      { app: { services: { web: sleeper() }, hooks: { beforeUp: ["sleep 8"] } } },
      onTarget,
    );
    const b = secondAgent(a);
    const holder = await startElsewhere(
      "agent-a",
      ["up", "app", "--target", "k8s", "--cwd", a],
      "beforeUp hook",
      {
        KAUPANG_LOCK_LEASE: "4s",
      },
    );
    const lease = getJson("leases", "-n", name, "-l", "app.kubernetes.io/managed-by=kaupang").items[0];
    expect(lease.spec.holderIdentity).toMatch(new RegExp(`agent-a pid ${holder.pid}$`));
    expect(lease.spec.leaseDurationSeconds).toBe(4);
    process.kill(holder.pid, "SIGKILL");
    await holder.closed;
    const began = Date.now();
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", b]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - began).toBeGreaterThanOrEqual(3000);
    expect(r.stderr).toMatch(new RegExp(`waiting for app@k8s: locked by process ${holder.pid} on agent-a`));
    expect(r.stderr).toMatch(
      new RegExp(
        `taking over the lock of app@k8s: process ${holder.pid} on agent-a .* has not renewed it for 4s \\(its lease expired`,
      ),
    );
    const entries = await history(a, "app", "k8s");
    // The interrupted outcome is B's record of A's deploy: its error names A.
    expect(entries.map((e) => e.status)).toEqual(["interrupted", "succeeded"]);
    expect(entries[0]!.error).toMatch(/no outcome was recorded: process \d+ on agent-a .* ended without one/);
    expect(entries[1]!.by.host).not.toBe("agent-a");
  });

  it("an identity RBAC denies the Lease: one line naming the target, the namespace and the permission; nothing deployed", async () => {
    const name = fresh("kstate");
    expect(kubectl("create", "namespace", name).code).toBe(0);
    // A service account that may deploy and keep Secrets, but not touch Leases.
    expect(kubectl("create", "serviceaccount", "deployer", "-n", name).code).toBe(0);
    const role = kubectl(
      "create",
      "role",
      "deploy-no-leases",
      "-n",
      name,
      "--verb=get,list,watch,create,update,patch,delete",
      "--resource=deployments.apps,services,jobs.batch,pods,secrets",
    );
    expect(role.code, role.err).toBe(0);
    expect(
      kubectl(
        "create",
        "rolebinding",
        "deployer",
        "-n",
        name,
        "--role=deploy-no-leases",
        `--serviceaccount=${name}:deployer`,
      ).code,
    ).toBe(0);
    const token = kubectl("create", "token", "deployer", "-n", name);
    expect(token.code, token.err).toBe(0);
    const admin = JSON.parse(kubectl("config", "view", "--raw", "--minify", "--flatten", "-o", "json").out);
    const config = join(testdir({}), "deployer.kubeconfig");
    writeFileSync(
      config,
      json({
        apiVersion: "v1",
        kind: "Config",
        clusters: admin.clusters,
        users: [{ name: "deployer", user: { token: token.out } }],
        contexts: [
          {
            name: "deployer",
            context: { cluster: admin.clusters[0].name, user: "deployer", namespace: name },
          },
        ],
        "current-context": "deployer",
      }),
    );
    const dir = k8sProject(
      name,
      { app: { services: { web: sleeper() } } },
      {
        ...onTarget,
        kubeconfig: config,
        kubeContext: "deployer",
      },
    );
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code).toBe(1);
    const [line, hint] = r.stderr.trim().split("\n");
    expect(line).toMatch(
      new RegExp(
        `^error: target k8s: the Kubernetes API refuses to let kaupang take the lock of its state in namespace ${name} on .*: .*cannot \\w+ resource "leases" in API group "coordination.k8s.io".*; nothing was changed$`,
      ),
    );
    expect(hint).toMatch(/^hint: the deploying identity needs a Role in that namespace allowing leases/);
    expect(names("deployments", name)).toEqual([]);
  });
});
