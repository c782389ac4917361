/**
 * What only a real node shows: `status` reads readiness, restarts, crash loops
 * and the digest the kubelet pulled from the pods' status; `ps` and `logs`
 * pass through to the real pods.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  baseImage,
  deleteNamespaces,
  execIn,
  fresh,
  k8sProject,
  kubectl,
  livePods,
  pushVersion,
  realNode,
  registry,
  requireCluster,
  runningOnNode,
  withInit,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const server = (marker: string, extra: Record<string, unknown> = {}) =>
  withInit({
    image: baseImage(),
    command: ["sh", "-c", `echo ${marker}-$HOSTNAME; exec httpd -f -p 8080 -h /www`],
    ports: ["8080"],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: "1s" },
    ...extra,
  });

interface Status {
  state: string;
  drift: { service: string; kind: string; detail: string }[];
  instances?: {
    service: string;
    name: string;
    state: string;
    ready?: boolean;
    restarts?: number;
    waiting?: string;
    image: string;
  }[];
}
async function statusOf(dir: string): Promise<{ code: number; json: Status; text: string }> {
  const json = await kaupang(["status", "app", "--target", "k8s", "--output", "json", "--cwd", dir]);
  const text = await kaupang(["status", "app", "--target", "k8s", "--cwd", dir]);
  expect(text.code).toBe(json.code);
  return { code: json.code, json: (JSON.parse(json.stdout) as Status[])[0]!, text: text.stdout };
}

/** Poll `check` until it returns true (the kubelet acts on its own schedule). */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

describe("status, ps and logs on the real node", () => {
  it("status lists each pod with its readiness, restarts and the digest the kubelet pulled; ps and logs reach the pods", async () => {
    const name = fresh();
    const marker = `hello-${Math.random().toString(36).slice(2)}`;
    const ref = `${registry()}/${name}/web:latest`;
    const digest = pushVersion(ref, "one");
    const repo = ref.replace(/:latest$/, "");
    const dir = k8sProject(name, { app: { services: { web: server(marker, { image: ref, replicas: 2 }) } } });
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);
    const pods = runningOnNode(name, name, "app", "web");

    const ok = await statusOf(dir);
    expect(ok.code).toBe(0);
    expect(ok.json.state).toBe("ok");
    expect(ok.json.instances!.map((i) => i.name).sort()).toEqual(pods.map((p) => p.name).sort());
    for (const instance of ok.json.instances!)
      expect(instance).toEqual({
        service: "web",
        name: instance.name,
        state: "running",
        ready: true,
        restarts: 0,
        image: `${repo}@${digest}`,
      });
    expect(ok.text).toContain(`  web: ${pods[0]!.name}: running, ready, image ${repo}@${digest}\n`);

    // ps: the pods, where they run and their IPs.
    const ps = await kaupang(["ps", "app", "--target", "k8s", "--cwd", dir]);
    expect(ps.code, ps.stderr).toBe(0);
    for (const pod of pods)
      expect(ps.stdout).toMatch(
        new RegExp(`${pod.name}\\s+1/1\\s+Running\\s+0\\s.*${pod.ip}\\s+${realNode()}`),
      );
    // logs: each pod's own log line, prefixed with the pod.
    const logs = await kaupang(["logs", "app", "web", "--target", "k8s", "--cwd", dir]);
    expect(logs.code, logs.stderr).toBe(0);
    for (const pod of pods) expect(logs.stdout).toContain(`[pod/${pod.name}/web] ${marker}-${pod.name}`);
  });

  it("status reports a pod that stops answering its check as not ready, and one that crash-loops with its restarts", async () => {
    const name = fresh();
    const dir = k8sProject(name, { app: { services: { api: server("api"), web: server("web") } } });
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);

    // api's page goes away inside its container: the kubelet's check fails, the pod turns unready.
    const [api] = runningOnNode(name, name, "app", "api");
    execIn(name, api!.name, "rm", "/www/index.html");
    await until("api is not ready", () => livePods(name, name, "app", "api")[0]?.ready === false);
    // web's new template crashes at start; the rollout keeps the old pod serving.
    const patch = [
      {
        op: "replace",
        path: "/spec/template/spec/containers/0/args",
        value: ["sh", "-c", "echo down; exit 3"],
      },
    ];
    expect(
      kubectl("patch", "deployment", "web", "-n", name, "--type=json", "-p", JSON.stringify(patch)).code,
    ).toBe(0);
    // Crash-looping: restarted twice, and now waiting out its back-off (20 s or more).
    await until("a web pod crash-loops", () =>
      livePods(name, name, "app", "web").some((p) => p.restarts >= 2 && p.waiting === "CrashLoopBackOff"),
    );

    // A container in a crash loop is briefly running between its back-offs: status is a
    // point-in-time read, so ask again if it caught that instant.
    let drifted = await statusOf(dir);
    await until("status catches the crash loop", async () => {
      drifted = await statusOf(dir);
      return (
        drifted.json.drift.some((d) => d.kind === "crashing") && drifted.text.includes("(CrashLoopBackOff)")
      );
    });
    expect(drifted.code).toBe(3);
    expect(drifted.json.state).toBe("drifted");
    expect(drifted.json.drift).toContainEqual({
      service: "api",
      kind: "unready",
      detail: `${api!.name} running but not ready`,
    });
    const crashing = drifted.json.drift.find((d) => d.kind === "crashing");
    expect(crashing?.service).toBe("web");
    expect(crashing?.detail).toMatch(/^web-\S+ is crash-looping \(CrashLoopBackOff, \d+ restarts\)$/);
    const looping = drifted.json.instances!.find((i) => i.service === "web" && (i.restarts ?? 0) >= 2);
    expect(looping).toMatchObject({ state: "running", ready: false });
    expect(drifted.text).toContain(`  api: unready: ${api!.name} running but not ready\n`);
    expect(drifted.text).toMatch(
      / {2}web: web-\S+: running \(CrashLoopBackOff\), not ready, \d+ restarts, image /,
    );
  });

  it("status compares the digest the kubelet pulled with the deployed one", async () => {
    const name = fresh();
    const ref = `${registry()}/${name}/web:latest`;
    const first = pushVersion(ref, "one");
    const repo = ref.replace(/:latest$/, "");
    const dir = k8sProject(name, { app: { services: { web: server("web", { image: ref }) } } });
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);

    // Someone moves the Deployment to another digest behind kaupang's back.
    const second = pushVersion(ref, "two");
    expect(kubectl("set", "image", `deployment/web`, `web=${repo}@${second}`, "-n", name).code).toBe(0);
    expect(kubectl("rollout", "status", "deployment/web", "-n", name, "--timeout=90s").code).toBe(0);
    const [pod] = runningOnNode(name, name, "app", "web");
    expect(pod!.pulled).toBe(second);

    const drifted = await statusOf(dir);
    expect(drifted.code).toBe(3);
    expect(drifted.json.drift).toEqual([
      { service: "web", kind: "image", detail: `runs ${second}, deployed ${first}` },
    ]);
    expect(drifted.json.instances).toEqual([
      {
        service: "web",
        name: pod!.name,
        state: "running",
        ready: true,
        restarts: 0,
        image: `${repo}@${second}`,
      },
    ]);
  });
});
