import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  baseImage,
  container,
  deleteNamespaces,
  digestOf,
  execIn,
  filesUnder,
  fresh,
  getJson,
  k8sProject,
  kubectl,
  livePods,
  names,
  podImages,
  pushVersion,
  realNode,
  registry,
  requireCluster,
  runningOnNode,
  selectorOf,
  track,
  withInit,
  withPodSpec,
  writeEnvironment,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const pinned = /@sha256:[0-9a-f]{64}$/;
const sleeper = (extra: Record<string, unknown> = {}) =>
  withInit({ image: baseImage(), command: ["sleep", "3600"], ...extra });
const server = (extra: Record<string, unknown> = {}) =>
  withInit({
    image: baseImage(),
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
    ports: ["8080"],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: "1s" },
    ...extra,
  });
/** No node has this label: a pod that asks for it stays Pending (Unschedulable). */
const nowhere = { nodeSelector: { "kaupang.dev/none": "x" } };
const up = (dir: string, env: string, ...extra: string[]) =>
  kaupang(["up", env, "--target", "k8s", ...extra, "--cwd", dir]);

describe("kubernetes backend: up, labels, secrets (real API server)", () => {
  it("creates the namespace, Deployments and Services, pinned by digest and rolled out", async () => {
    const name = fresh();
    const dir = k8sProject(name, { core: { services: { api: server({ replicas: 2 }), worker: sleeper() } } });
    expect(kubectl("get", "namespace", name).code).toBe(1);

    const r = await up(dir, "core", "--output", "json");
    expect(r.code, r.stderr).toBe(0);
    const digest = digestOf(baseImage());
    expect(JSON.parse(r.stdout).deployments[0].images).toEqual([
      { service: "api", ref: baseImage(), digest, pinned: true },
      { service: "worker", ref: baseImage(), digest, pinned: true },
    ]);

    const namespace = getJson("namespace", name);
    expect(namespace.metadata.labels).toMatchObject({
      "app.kubernetes.io/part-of": name,
      "app.kubernetes.io/managed-by": "kaupang",
    });
    expect(names("deployment,service,job", name)).toEqual([
      "deployment.apps/api",
      "deployment.apps/worker",
      "service/api",
    ]);
    const labels = (service: string) => ({
      "app.kubernetes.io/name": service,
      "app.kubernetes.io/instance": `${name}-core`,
      "app.kubernetes.io/part-of": name,
      "app.kubernetes.io/managed-by": "kaupang",
      "kaupang.dev/environment": "core",
    });
    for (const service of ["api", "worker"]) {
      const d = getJson("deployment", "-n", name, service);
      expect(d.metadata.labels).toEqual(labels(service));
      const image = d.spec.template.spec.containers[0].image;
      expect(image).toMatch(pinned);
      expect(image).toBe(`${baseImage().replace(/:latest$/, "")}@${digest}`);
      // Rolled out: the controller saw this generation and every replica is updated and ready.
      expect(d.status.observedGeneration).toBe(d.metadata.generation);
      expect(d.status.updatedReplicas).toBe(d.spec.replicas);
      expect(d.status.readyReplicas).toBe(d.spec.replicas);
      expect(podImages(name, name, "core", service)).toEqual(Array(d.spec.replicas).fill(image));
      // …and really runs: on the real node, in containerd, from the pulled digest.
      const pods = runningOnNode(name, name, "core", service);
      expect(pods).toHaveLength(d.spec.replicas);
      for (const pod of pods) {
        expect(pod.node).toBe(realNode());
        expect(pod.pulled).toBe(digest);
        expect(container(pod.containerID)?.digest).toBe(digest);
      }
      expect(new Set(pods.map((p) => p.ip)).size).toBe(pods.length);
    }
    const svc = getJson("service", "-n", name, "api");
    expect(svc.metadata.labels).toEqual(labels("api"));
    expect(svc.spec).toMatchObject({ type: "ClusterIP", ports: [{ port: 8080, targetPort: 8080 }] });
    const probe = getJson("deployment", "-n", name, "api").spec.template.spec.containers[0].readinessProbe;
    expect(probe.exec.command).toEqual(["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]);
    expect(names("pods", name, `${selectorOf(name, "core")},app.kubernetes.io/name=api`)).toHaveLength(2);
    // The Service routes: from the worker's pod, by DNS name, through the ClusterIP, to an api pod.
    const [worker] = runningOnNode(name, name, "core", "worker");
    expect(execIn(name, worker!.name, "timeout", "10", "wget", "-q", "-O-", "http://api:8080/")).toContain(
      "kaupang-test busybox",
    );
    expect(execIn(name, worker!.name, "nslookup", `api.${name}.svc.cluster.local`)).toContain(
      svc.spec.clusterIP,
    );
  });

  it("references a secret() through secretKeyRef; its value is in nothing kaupang wrote or printed", async () => {
    const name = fresh();
    const value = `hidden-${Math.random().toString(36).slice(2)}`;
    const dir = k8sProject(name, {
      app: { services: { web: server({ env: { TOKEN: { $secret: "E2E_TOKEN" }, PLAIN: "shown" } }) } },
    });
    expect(kubectl("create", "namespace", name).code).toBe(0);
    const created = kubectl(
      "create",
      "secret",
      "generic",
      `${name}-secrets`,
      "-n",
      name,
      `--from-literal=E2E_TOKEN=${value}`,
    );
    expect(created.code, created.err).toBe(0);

    // The value is in kaupang's environment too (the generic pre-flight reads it there): still never written.
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir], { env: { E2E_TOKEN: value } });
    expect(r.code, r.stderr).toBe(0);
    const env = getJson("deployment", "-n", name, "web").spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: "TOKEN",
      valueFrom: { secretKeyRef: { name: `${name}-secrets`, key: "E2E_TOKEN" } },
    });
    expect(env).toContainEqual({ name: "PLAIN", value: "shown" });
    // The value reaches the process.
    const [pod] = runningOnNode(name, name, "app", "web");
    expect(execIn(name, pod!.name, "sh", "-c", 'printf %s "$TOKEN"')).toBe(value);
    expect(execIn(name, pod!.name, "sh", "-c", 'printf %s "$PLAIN"')).toBe("shown");
    // …and is in no manifest kaupang applied (the Deployment holds a reference only).
    expect(JSON.stringify(getJson("deployment,service", "-n", name))).not.toContain(value);
    const written = filesUnder(join(dir, ".kaupang"));
    expect(written.map((f) => f.path)).toContainEqual(expect.stringMatching(/app\.k8s\.yaml$/));
    expect(written.some((f) => f.path.includes("ledger"))).toBe(true);
    for (const file of written) expect(file.content, file.path).not.toContain(value);
    expect(r.stdout + r.stderr).not.toContain(value);
  });

  it("times out naming the service that did not become ready, and why", async () => {
    const name = fresh();
    const dir = k8sProject(name, { app: { services: { web: withPodSpec(server(), nowhere) } } });
    const r = await up(dir, "app", "--timeout", "4s");
    expect(r.code).toBe(1);
    expect(kubectl("get", "deployment", "-n", name, "web").code).toBe(0);
    // The real node lacks the label; the fake nodes are tainted.
    const nodes = getJson("nodes").items.length;
    expect(r.stderr).toMatch(
      new RegExp(
        `error: app: service web did not become ready within 4s \\(0/1 pods ready; pod web-\\S+ is Pending \\(Unschedulable: 0/${nodes} nodes are available`,
      ),
    );
  });

  it("a failing readiness check keeps the rollout from completing: up fails after the timeout naming the service, the probe's failure and the pod's last log lines", async () => {
    const name = fresh();
    const marker = `web-started-${Math.random().toString(36).slice(2)}`;
    const dir = k8sProject(name, {
      app: {
        services: {
          web: server({
            command: ["sh", "-c", `echo ${marker}; exec httpd -f -p 8080 -h /www`],
            // The server answers, but not on this path: the probe fails on every try.
            healthcheck: {
              test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/missing"],
              interval: "1s",
            },
          }),
        },
      },
    });
    const started = Date.now();
    const r = await up(dir, "app", "--timeout", "8s");
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(8000);
    const [pod] = livePods(name, name, "app", "web");
    expect(pod).toMatchObject({ node: realNode(), phase: "Running", ready: false });
    expect(r.stderr).toContain(
      `error: app: service web did not become ready within 8s (0/1 pods ready; pod ${pod!.name} is Running (readiness probe failed: `,
    );
    expect(r.stderr).toMatch(/readiness probe failed: [^\n]*404/);
    expect(r.stderr).toMatch(new RegExp(`hint: last log lines of pod ${pod!.name}: [^\\n]*${marker}`));
    // The kubelet really ran the check: its failures are the pod's events.
    const events = getJson("events", "-n", name, "--field-selector", `involvedObject.name=${pod!.name}`);
    // biome-ignore lint/suspicious/noExplicitAny: an event as kubectl returns it
    const unhealthy = events.items.filter((e: any) => e.reason === "Unhealthy");
    expect(unhealthy.length).toBeGreaterThan(0);
    expect(unhealthy[0].message).toMatch(/^Readiness probe failed:.*404/);
    expect(unhealthy.reduce((n: number, e: { count?: number }) => n + (e.count ?? 1), 0)).toBeGreaterThan(2);
  });
});

describe("kubernetes backend: versions, rollback, prune, down (real API server)", () => {
  it("rolls a moved tag to its new digest, rolls back to the first, and down removes every labelled object", async () => {
    const name = fresh();
    const ref = `${registry()}/${name}/app:latest`;
    const repo = ref.replace(/:latest$/, "");
    const dir = k8sProject(name, { app: { services: { web: server({ image: ref }), worker: sleeper() } } });

    const first = pushVersion(ref, "one");
    let r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${first}`]);
    const [one] = runningOnNode(name, name, "app", "web");
    expect(one!.pulled).toBe(first);
    expect(execIn(name, one!.name, "cat", "/www/version")).toBe("one");

    const second = pushVersion(ref, "two");
    expect(second).not.toBe(first);
    r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    const web = getJson("deployment", "-n", name, "web");
    expect(web.spec.template.spec.containers[0].image).toBe(`${repo}@${second}`);
    expect(web.status.updatedReplicas).toBe(1);
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${second}`]);
    const [two] = runningOnNode(name, name, "app", "web");
    expect(two!.pulled).toBe(second);
    expect(two!.containerID).not.toBe(one!.containerID);
    expect(execIn(name, two!.name, "cat", "/www/version")).toBe("two");

    r = await kaupang(["rollback", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(getJson("deployment", "-n", name, "web").spec.template.spec.containers[0].image).toBe(
      `${repo}@${first}`,
    );
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${first}`]);
    // A new pod, running the first digest again.
    const [back] = runningOnNode(name, name, "app", "web");
    expect(back!.pulled).toBe(first);
    expect(back!.containerID).not.toBe(two!.containerID);
    expect(execIn(name, back!.name, "cat", "/www/version")).toBe("one");
    const running = [back!, ...runningOnNode(name, name, "app", "worker")].map((p) => p.containerID);

    r = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);
    // The containers stopped on the node too (the kubelet removes exited ones later).
    for (const id of running) expect([undefined, "CONTAINER_EXITED"], id).toContain(container(id)?.state);
    const everything = "all,endpointslices,endpoints,configmaps,secrets";
    expect(names(everything, name, "app.kubernetes.io/managed-by=kaupang")).toEqual([]);
    expect(names(everything, name, `app.kubernetes.io/instance=${name}-app`)).toEqual([]);
    // The namespace stays: other environments of the project share it.
    expect(kubectl("get", "namespace", name).code).toBe(0);
    const ledger = await kaupang(["rollback", "app", "--list", "--target", "k8s", "--cwd", dir]);
    expect(ledger.stdout.trim().split("\n").slice(1)).toHaveLength(4);
  });

  it("prunes what left the config, and never touches objects it did not create", async () => {
    const name = fresh();
    const namespace = track(`${name}-shared`);
    const dir = k8sProject(
      name,
      {
        app: { services: { a: server(), b: server(), c: sleeper() } },
        other: { services: { o: server() } },
      },
      { namespace },
    );
    for (const env of ["app", "other"]) {
      const r = await up(dir, env);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(names("deployment,service", namespace)).toEqual([
      "deployment.apps/a",
      "deployment.apps/b",
      "deployment.apps/c",
      "deployment.apps/o",
      "service/a",
      "service/b",
      "service/o",
    ]);
    // Made by hand in the same namespace: no kaupang labels.
    expect(kubectl("create", "configmap", "hand-made", "-n", namespace, "--from-literal=k=v").code).toBe(0);
    expect(kubectl("create", "deployment", "hand", "-n", namespace, `--image=${baseImage()}`).code).toBe(0);
    const a = getJson("deployment", "-n", namespace, "a").metadata.uid;
    const [b] = runningOnNode(namespace, name, "app", "b");

    // b leaves the config; a loses its ports (so its Service goes, its Deployment stays).
    writeEnvironment(dir, "app", { services: { a: server({ ports: [] }), c: sleeper() } });
    const r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    expect(
      names("deployment,service,job,configmap", namespace).filter((n) => !n.includes("kube-root-ca")),
    ).toEqual([
      "configmap/hand-made",
      "deployment.apps/a",
      "deployment.apps/c",
      "deployment.apps/hand",
      "deployment.apps/o",
      "service/o",
    ]);
    expect(getJson("deployment", "-n", namespace, "a").metadata.uid).toBe(a);
    // b's pods went with it, and its container is gone from the node.
    expect(names("pods", namespace, `${selectorOf(name, "app")},app.kubernetes.io/name=b`)).toEqual([]);
    expect([undefined, "CONTAINER_EXITED"]).toContain(container(b!.containerID)?.state);
    expect(runningOnNode(namespace, name, "app", "a")).toHaveLength(1);
  });

  it("runs a runOnce Job to completion before the next wave, and again on every deploy that applies", async () => {
    const name = fresh();
    const migrate = { image: baseImage(), runOnce: true, command: ["sh", "-c", "echo migrated"] };
    const app = (level: string) => ({
      services: { migrate, web: server({ dependsOn: "migrate", env: { LEVEL: level } }) },
    });
    const dir = k8sProject(name, { app: app("info") });
    let r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    const job = getJson("job", "-n", name, "migrate");
    const web = getJson("deployment", "-n", name, "web");
    expect(job.status.succeeded).toBe(1);
    // The Job's process really ran on the node and exited 0.
    expect(kubectl("logs", "-n", name, "job/migrate").out).toBe("migrated");
    const [run] = getJson(
      "pods",
      "-n",
      name,
      "-l",
      `${selectorOf(name, "app")},app.kubernetes.io/name=migrate`,
    ).items;
    expect(run.spec.nodeName).toBe(realNode());
    expect(run.status.containerStatuses[0].state.terminated).toMatchObject({
      exitCode: 0,
      reason: "Completed",
    });
    expect(run.status.containerStatuses[0].containerID).toMatch(/^containerd:\/\//);
    expect(job.spec.template.spec.containers[0].image).toMatch(pinned);
    // Timestamps have whole seconds: the Job finished no later than the wave-2 Deployment was created…
    expect(Date.parse(job.status.completionTime)).toBeLessThanOrEqual(
      Date.parse(web.metadata.creationTimestamp),
    );
    // …and kaupang applied wave 2 only after the wait for the Job had returned.
    const met = r.stderr.indexOf("job.batch/migrate condition met");
    expect(met).toBeGreaterThan(-1);
    expect(r.stderr.indexOf("app.k8s.wave2.yaml")).toBeGreaterThan(met);

    // Another deploy (web changed, the Job's spec did not): the finished Job is replaced and runs again.
    writeEnvironment(dir, "app", app("debug"));
    r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    const again = getJson("job", "-n", name, "migrate");
    expect(again.metadata.uid).not.toBe(job.metadata.uid);
    expect(again.status.succeeded).toBe(1);
    expect(Date.parse(again.metadata.creationTimestamp)).toBeGreaterThanOrEqual(
      Date.parse(job.status.completionTime),
    );
    // The old Job's pod is gone; the Deployment was updated in place, not recreated.
    expect(names("pods", name, `${selectorOf(name, "app")},app.kubernetes.io/name=migrate`)).toHaveLength(1);
    expect(getJson("deployment", "-n", name, "web").metadata.uid).toBe(web.metadata.uid);

    // Nothing changed and nothing drifted (what the pods run matches): no deploy, the Job stays…
    r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("app: unchanged: nothing to apply");
    expect(getJson("job", "-n", name, "migrate").metadata.uid).toBe(again.metadata.uid);
    // …unless forced.
    r = await up(dir, "app", "--force");
    expect(r.code, r.stderr).toBe(0);
    expect(getJson("job", "-n", name, "migrate").metadata.uid).not.toBe(again.metadata.uid);
  });

  it("a runOnce Job whose process exits 1 fails the deploy, and the next wave is not applied", async () => {
    const name = fresh();
    const migrate = {
      image: baseImage(),
      runOnce: true,
      command: ["sh", "-c", "echo cannot-migrate >&2; exit 1"],
    };
    const dir = k8sProject(name, { app: { services: { migrate, web: server({ dependsOn: "migrate" }) } } });
    const r = await up(dir, "app");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: app: one-shot service migrate exited with code 1 \(BackoffLimitExceeded/,
    );
    expect(names("deployment", name)).toEqual([]);
    const [run] = getJson(
      "pods",
      "-n",
      name,
      "-l",
      `${selectorOf(name, "app")},app.kubernetes.io/name=migrate`,
    ).items;
    expect(run.spec.nodeName).toBe(realNode());
    expect(run.status.containerStatuses[0].state.terminated).toMatchObject({ exitCode: 1, reason: "Error" });
    expect(kubectl("logs", "-n", name, "job/migrate").out).toBe("cannot-migrate");
    // The ledger records the failed deploy; rollback has nothing to return to.
    const list = await kaupang(["rollback", "app", "--list", "--target", "k8s", "--cwd", dir]);
    expect(list.stdout).toMatch(/failed/);
  });

  it("keeps a still-running Job of the same spec (never kills a migration), replaces it once its spec changes", async () => {
    const name = fresh();
    // No node matches: the Job's pod stays Pending, so the Job never finishes.
    const stuck = { kubernetes: { spec: { template: { spec: nowhere } } } };
    const migrate = { image: baseImage(), runOnce: true, command: ["sh", "-c", "echo migrated"] };
    const dir = k8sProject(name, {
      app: { services: { migrate: { ...migrate, ...stuck }, web: server({ dependsOn: "migrate" }) } },
    });
    let r = await up(dir, "app", "--timeout", "3s");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: app: job migrate did not complete within 3s \(0\/1 pods ready; pod migrate-\S+ is Pending \(Unschedulable/,
    );
    expect(names("deployment", name)).toEqual([]);
    const first = getJson("job", "-n", name, "migrate").metadata.uid;

    // Same spec again: the running Job is this deploy's run; it is waited for, not deleted.
    r = await up(dir, "app", "--timeout", "3s");
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("delete -n");
    expect(getJson("job", "-n", name, "migrate").metadata.uid).toBe(first);

    // Fixed config: another spec, so the stuck Job is deleted and the new one runs.
    writeEnvironment(dir, "app", { services: { migrate, web: server({ dependsOn: "migrate" }) } });
    r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`delete -n ${name} job/migrate`);
    const job = getJson("job", "-n", name, "migrate");
    expect(job.metadata.uid).not.toBe(first);
    expect(job.status.succeeded).toBe(1);
    expect(names("deployment", name)).toEqual(["deployment.apps/web"]);
  });
});

describe("kubernetes backend: environments reach each other by Service name (real node)", () => {
  it("a pod of a dependent environment gets HTTP from another environment's Service, through DNS and the ClusterIP", async () => {
    const name = fresh();
    const dir = k8sProject(name, {
      backend: { services: { api: server() } },
      front: {
        dependsOn: ["backend"],
        services: {
          // A one-shot check at deploy time: its exit code decides the deploy.
          check: {
            image: baseImage(),
            runOnce: true,
            command: ["sh", "-c", "timeout 10 wget -q -O- http://api:8080/"],
          },
          client: sleeper({ dependsOn: "check" }),
        },
      },
    });
    const r = await up(dir, "front");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("backend: deployed");
    expect(kubectl("logs", "-n", name, "job/check").out).toContain("kaupang-test busybox");

    const [api] = runningOnNode(name, name, "backend", "api");
    const [client] = runningOnNode(name, name, "front", "client");
    const svc = getJson("service", "-n", name, "api");
    expect(svc.spec.clusterIP).toMatch(/^10\.96\./);
    // The Service's name resolves to its ClusterIP (CoreDNS), which leads to api's pod IP (kube-proxy).
    expect(execIn(name, client!.name, "nslookup", `api.${name}.svc.cluster.local`)).toContain(
      svc.spec.clusterIP,
    );
    const slices = getJson("endpointslices", "-n", name, "-l", "kubernetes.io/service-name=api");
    expect(
      slices.items.flatMap((s: { endpoints: { addresses: string[] }[] }) =>
        s.endpoints.flatMap((e) => e.addresses),
      ),
    ).toEqual([api!.ip]);
    for (const url of [
      "http://api:8080/",
      `http://api.${name}.svc.cluster.local:8080/`,
      `http://${svc.spec.clusterIP}:8080/`,
    ])
      expect(execIn(name, client!.name, "timeout", "10", "wget", "-q", "-O-", url), url).toContain(
        "kaupang-test busybox",
      );
  });
});
