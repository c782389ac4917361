import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  baseImage,
  deleteNamespaces,
  digestOf,
  filesUnder,
  fresh,
  getJson,
  k8sProject,
  kubectl,
  names,
  podImages,
  pushVersion,
  registry,
  requireCluster,
  selectorOf,
  track,
  writeEnvironment,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const pinned = /@sha256:[0-9a-f]{64}$/;
const sleeper = (extra: Record<string, unknown> = {}) => ({
  image: baseImage(),
  command: ["sleep", "3600"],
  ...extra,
});
const server = (extra: Record<string, unknown> = {}) => ({
  image: baseImage(),
  command: ["httpd", "-f", "-p", "8080"],
  ports: ["8080"],
  healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: "2s" },
  ...extra,
});
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
    }
    const svc = getJson("service", "-n", name, "api");
    expect(svc.metadata.labels).toEqual(labels("api"));
    expect(svc.spec).toMatchObject({ type: "ClusterIP", ports: [{ port: 8080, targetPort: 8080 }] });
    const probe = getJson("deployment", "-n", name, "api").spec.template.spec.containers[0].readinessProbe;
    expect(probe.exec.command).toEqual(["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]);
    expect(names("pods", name, `${selectorOf(name, "core")},app.kubernetes.io/name=api`)).toHaveLength(2);
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
    const written = filesUnder(join(dir, ".kaupang"));
    expect(written.map((f) => f.path)).toContainEqual(expect.stringMatching(/app\.k8s\.yaml$/));
    expect(written.some((f) => f.path.includes("ledger"))).toBe(true);
    for (const file of written) expect(file.content, file.path).not.toContain(value);
    expect(r.stdout + r.stderr).not.toContain(value);
  });

  it("times out naming the service that did not become ready, and why", async () => {
    const name = fresh();
    const dir = k8sProject(name, {
      app: {
        services: {
          // No node has this label: the pod stays Pending (Unschedulable).
          web: server({
            kubernetes: { spec: { template: { spec: { nodeSelector: { "kaupang.dev/none": "x" } } } } },
          }),
        },
      },
    });
    const r = await up(dir, "app", "--timeout", "4s");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /error: app: service web did not become ready within 4s \(0\/1 pods ready; pod web-\S+ is Pending \(Unschedulable: 0\/2 nodes are available/,
    );
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

    const second = pushVersion(ref, "two");
    expect(second).not.toBe(first);
    r = await up(dir, "app");
    expect(r.code, r.stderr).toBe(0);
    const web = getJson("deployment", "-n", name, "web");
    expect(web.spec.template.spec.containers[0].image).toBe(`${repo}@${second}`);
    expect(web.status.updatedReplicas).toBe(1);
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${second}`]);

    r = await kaupang(["rollback", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(getJson("deployment", "-n", name, "web").spec.template.spec.containers[0].image).toBe(
      `${repo}@${first}`,
    );
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${first}`]);

    r = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);
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
    // b's pods went with it.
    expect(names("pods", namespace, `${selectorOf(name, "app")},app.kubernetes.io/name=b`)).toEqual([]);
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

  it("keeps a still-running Job of the same spec (never kills a migration), replaces it once its spec changes", async () => {
    const name = fresh();
    // No node matches: the Job's pod stays Pending, so the Job never finishes.
    const stuck = {
      kubernetes: { spec: { template: { spec: { nodeSelector: { "kaupang.dev/none": "x" } } } } },
    };
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
