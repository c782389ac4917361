import { fileURLToPath } from "node:url";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { Namespace, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { json, testdir } from "../../../../test/support/testdir.js";
import { loadModel, loadProject } from "../config/project.js";
import { createPlan } from "../plan/create-plan.js";
import { secretChecksumAnnotation } from "./kubernetes.js";
import { renderEnvironment, waveDocuments } from "./render.js";

const longhall = fileURLToPath(new URL("../../../../examples/longhall", import.meta.url));

/** An environment using every service field, for every backend. */
const kitchenSink = () => ({
  "kaupang.config.json": json({
    project: "sink",
    dockerRepository: "reg.example/team",
    globalEnv: { TZ: "UTC" },
    targets: {
      local: {},
      sw: { backend: "swarm", pull: "always" },
      k8s: { backend: "kubernetes", namespace: "sink-ns" },
    },
  }),
  "environments/all.json": json({
    env: { LEVEL: "info" },
    services: {
      migrate: { image: "tool:1", runOnce: true, command: ["migrate", "up"] },
      web: {
        image: "web",
        build: { context: "./web", dockerfile: "Dockerfile.prod", args: { V: "1" } },
        ports: ["8080:3000", "127.0.0.1:9090:9090", "53/udp"],
        env: { PASSWORD: "pa$$word ${NOT_A_VAR}", API_KEY: { $secret: "SINK_API_KEY" }, N: 3 },
        command: "serve --port 3000",
        entrypoint: ["/entry.sh"],
        workingDir: "/app",
        volumes: ["data:/var/lib/web", "./conf:/etc/web:ro", "/var/cache/web"],
        healthcheck: {
          test: ["CMD", "wget", "-q", "http://127.0.0.1:3000/"],
          interval: "5s",
          timeout: "2s",
          retries: 3,
          startPeriod: "10s",
        },
        restart: "always",
        replicas: 2,
        labels: { team: "longships" },
        dependsOn: "migrate",
        resources: { cpus: 0.5, memory: "256m" },
        compose: { stop_grace_period: "20s" },
        kubernetes: { spec: { template: { spec: { terminationGracePeriodSeconds: 20 } } } },
      },
      worker: { image: "reg.other/worker:2", dependsOn: ["web"] },
    },
  }),
});

async function planFor(dir: string, target: string, env = "all") {
  const project = await loadProject(dir);
  const model = await loadModel(project, { environments: [env], target, processEnv: {} });
  return createPlan(model);
}

describe("golden artifacts", () => {
  for (const target of ["local", "sw", "k8s"]) {
    it(`kitchen sink on ${target}`, async () => {
      const plan = await planFor(testdir(kitchenSink()), target);
      const content = plan.environments[0]!.artifact.content.replace(/\/tmp\/kaupang-test-[^/]+/g, "<root>");
      await expect(content).toMatchFileSnapshot(`__golden__/sink-${target}.yaml`);
    });
  }

  for (const target of ["local", "vanaheim-swarm", "asgard-k8s"]) {
    it(`longhall market and its dependencies on ${target}`, async () => {
      const plan = await planFor(longhall, target, "market");
      for (const env of plan.environments) {
        await expect(env.artifact.content).toMatchFileSnapshot(
          `__golden__/longhall-${target}-${env.environment}.yaml`,
        );
      }
    });
  }
});

describe("rendered documents", () => {
  it("are what any YAML reader reads back from the artifact, on every backend (readers use them unparsed)", async () => {
    for (const target of ["local", "sw", "k8s"]) {
      const dir = testdir(kitchenSink());
      const model = await loadModel(await loadProject(dir), {
        environments: ["all"],
        target,
        processEnv: {},
      });
      const { documents, content } = renderEnvironment(model, model.environments.all!);
      expect(content, target).toBe((await planFor(dir, target)).environments[0]!.artifact.content);
      // JSON round trip: drops the keys whose value is undefined, which YAML never writes.
      expect(JSON.parse(JSON.stringify(documents)), target).toEqual(
        parseAllDocuments(content).map((d) => d.toJS()),
      );
    }
  });
});

describe("compose rendering", () => {
  it("escapes $ in literals so they reach the container unchanged, and emits secrets as ${VAR}", async () => {
    const plan = await planFor(testdir(kitchenSink()), "local");
    const doc = parse(plan.environments[0]!.artifact.content);
    expect(doc.services.web.environment).toEqual({
      API_KEY: "${SINK_API_KEY}",
      LEVEL: "info",
      N: "3",
      PASSWORD: "pa$$$$word $${NOT_A_VAR}",
      TZ: "UTC",
    });
    expect(plan.environments[0]!.secrets).toEqual(["SINK_API_KEY"]);
  });

  it("uses health conditions for dependencies, completion for one-shot tasks", async () => {
    const plan = await planFor(testdir(kitchenSink()), "local");
    const doc = parse(plan.environments[0]!.artifact.content);
    expect(doc.services.web.depends_on).toEqual({ migrate: { condition: "service_completed_successfully" } });
    expect(doc.services.worker.depends_on).toEqual({ web: { condition: "service_healthy" } });
    expect(doc.services.migrate.restart).toBe("no");
    expect(doc.networks).toEqual({ default: { name: "sink", external: true } });
  });

  it("keeps 'no'-like strings strings for YAML 1.1 readers", async () => {
    const dir = testdir({
      "kaupang.config.json": json({ project: "p", targets: { k: { backend: "kubernetes" } } }),
      "environments/all.json": json({
        services: { a: { image: "x", env: { FLAG: "no", MODE: "0755", ON: "on" } } },
      }),
    });
    for (const target of ["local", "k"]) {
      const text = (await planFor(dir, target)).environments[0]!.artifact.content;
      expect(text).toMatch(/"no"/);
      expect(text).toMatch(/"0755"/);
      expect(text).toMatch(/"on"/);
    }
  });
});

describe("kubernetes rendering", () => {
  it("validates against the Kubernetes OpenAPI schema", async () => {
    const docs = [
      ...(await planFor(testdir(kitchenSink()), "k8s")).environments,
      ...(await planFor(longhall, "asgard-k8s", "market")).environments,
    ].flatMap((env) => parseAllDocuments(env.artifact.content).map((d) => d.toJS()));
    const kinds = { Namespace, PersistentVolumeClaim, Service, Deployment, Job } as const;
    expect(docs.length).toBeGreaterThan(6);
    for (const doc of docs) {
      const Model = kinds[doc.kind as keyof typeof kinds];
      expect(Model, `a model for ${doc.kind}`).toBeDefined();
      expect(() => new Model(doc).validate(), `${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
  });

  it("references secrets by key in <project>-secrets and never carries values", async () => {
    const plan = await planFor(testdir(kitchenSink()), "k8s");
    const web = parseAllDocuments(plan.environments[0]!.artifact.content)
      .map((d) => d.toJS())
      .find((d) => d.kind === "Deployment" && d.metadata.name === "web");
    const env = web.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: "API_KEY",
      valueFrom: { secretKeyRef: { name: "sink-secrets", key: "SINK_API_KEY" } },
    });
    expect(env).toContainEqual({ name: "PASSWORD", value: "pa$$word ${NOT_A_VAR}" });
    expect(web.metadata.namespace).toBe("sink-ns");
    expect(web.metadata.labels).toMatchObject({
      "app.kubernetes.io/name": "web",
      "app.kubernetes.io/instance": "sink-all",
      "app.kubernetes.io/part-of": "sink",
      "app.kubernetes.io/managed-by": "kaupang",
    });
  });

  it("rolls pods whose secret values changed: a checksum of their fingerprints on the pod template", async () => {
    const project = await loadProject(testdir(kitchenSink()));
    const model = await loadModel(project, { environments: ["all"], target: "k8s", processEnv: {} });
    const template = (secrets?: Record<string, string>) =>
      parseAllDocuments(createPlan(model, { secrets }).environments[0]!.artifact.content)
        .map((d) => d.toJS())
        .filter((d) => d.kind === "Deployment" || d.kind === "Job")
        .map((d) => [d.metadata.name, d.spec.template.metadata.annotations?.[secretChecksumAnnotation]]);
    const one = template({ SINK_API_KEY: "hmac-sha256:1111" });
    const web = one.find(([name]) => name === "web")![1];
    expect(web).toMatch(/^sha256:[0-9a-f]{64}$/);
    // migrate uses no secret: no annotation, never rolled for one.
    expect(one.find(([name]) => name === "migrate")![1]).toBeUndefined();
    expect(template({ SINK_API_KEY: "hmac-sha256:1111" })).toEqual(one);
    expect(template({ SINK_API_KEY: "hmac-sha256:2222" }).find(([name]) => name === "web")![1]).not.toBe(web);
    // A hermetic plan knows no values: no annotation.
    expect(template().find(([name]) => name === "web")![1]).toBeUndefined();
  });

  it("mounts a named volume from the environment's claim, a bind mount from the node, an anonymous one as emptyDir", async () => {
    const dir = testdir(kitchenSink());
    const docs = parseAllDocuments((await planFor(dir, "k8s")).environments[0]!.artifact.content).map((d) =>
      d.toJS(),
    );
    const claims = docs.filter((d) => d.kind === "PersistentVolumeClaim");
    expect(claims).toEqual([
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
          name: "all-data",
          namespace: "sink-ns",
          labels: {
            "app.kubernetes.io/instance": "sink-all",
            "app.kubernetes.io/part-of": "sink",
            "app.kubernetes.io/managed-by": "kaupang",
            "kaupang.dev/environment": "all",
            "kaupang.dev/volume": "data",
          },
        },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      },
    ]);
    const pod = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "web").spec.template.spec;
    expect(pod.volumes).toEqual([
      { name: "volume-0", persistentVolumeClaim: { claimName: "all-data" } },
      { name: "volume-1", hostPath: { path: `${dir}/conf` } },
      { name: "volume-2", emptyDir: {} },
    ]);
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: "volume-0", mountPath: "/var/lib/web" },
      { name: "volume-1", mountPath: "/etc/web", readOnly: true },
      { name: "volume-2", mountPath: "/var/cache/web" },
    ]);
  });
});

describe("swarm rendering", () => {
  it("rejects per-service pull with a hint to use the target", async () => {
    const dir = testdir({
      "kaupang.config.json": json({ project: "p", targets: { sw: { backend: "swarm" } } }),
      "environments/all.json": json({ services: { a: { image: "x", pull: "never" } } }),
    });
    await expect(planFor(dir, "sw")).rejects.toThrow(
      'environments/all.json: services.a.pull: per-service pull is not available (swarm pulls per stack; set pull on the target) on the swarm backend (target "sw")',
    );
  });
});

describe("staged kubernetes artifacts", () => {
  it("apply the namespace and the volume claims in every wave, each workload in its own wave", async () => {
    const plan = await planFor(testdir(kitchenSink()), "k8s");
    const env = plan.environments[0]!;
    expect(env.waves).toEqual([["migrate"], ["web"], ["worker"]]);
    const expected = [
      ["Namespace/sink-ns", "PersistentVolumeClaim/all-data", "Job/migrate"],
      ["Namespace/sink-ns", "PersistentVolumeClaim/all-data", "Deployment/web", "Service/web"],
      ["Namespace/sink-ns", "PersistentVolumeClaim/all-data", "Deployment/worker"],
    ];
    const names = (docs: { kind: string; metadata: { name: string } }[]) =>
      docs.map((d) => `${d.kind}/${d.metadata.name}`);
    // The wave files the planner writes, and the documents a stored unit's waves are rebuilt from.
    expect(env.waveArtifacts!.map((a) => names(parseAllDocuments(a.content).map((d) => d.toJS())))).toEqual(
      expected,
    );
    const documents = parseAllDocuments(env.artifact.content).map((d) => d.toJS());
    expect(env.waves.map((wave) => names(waveDocuments("kubernetes", documents, wave) as never))).toEqual(
      expected,
    );
  });
});
