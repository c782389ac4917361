import { describe, expect, it } from "vitest";
import { json, testdir } from "../../../../test/support/testdir.js";
import { loadModel, loadProject } from "../config/project.js";
import { kubeDeleteCommand, upCommands } from "../plan/commands.js";
import { createPlan } from "../plan/create-plan.js";
import { registryAuthSecret } from "../render/kubernetes.js";
import { type KubePod, pullEventMessage, pullWaiting } from "./kubernetes.js";

const services = {
  web: { image: "registry.example.com:5001/shop/web:1", ports: ["8080"] },
  cache: { image: "redis:7" },
};

/** A plan of environment `app` on target `prod`, with `target` settings and the deployer's logins. */
async function plan(target: Record<string, unknown>, registryLogins?: string[]) {
  const dir = testdir({
    "kaupang.config.json": json({ project: "hall", targets: { prod: { backend: "kubernetes", ...target } } }),
    "environments/app.json": json({ services }),
  });
  const model = await loadModel(await loadProject(dir), {
    environments: ["app"],
    target: "prod",
    processEnv: {},
  });
  return createPlan(model, { registryLogins });
}

/** The imagePullSecrets of each pod template in the rendered artifact, by service. */
function pullSecretsOf(content: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const doc of content.split(/^---$/m)) {
    const name = /^kind: Deployment\n(?:.*\n)*?metadata:\n {2}name: (\S+)/m.exec(doc)?.[1];
    if (name)
      out[name] = [...doc.matchAll(/imagePullSecrets:\n((?: +- name: \S+\n)+)/g)].flatMap((m) =>
        [...m[1]!.matchAll(/name: (\S+)/g)].map((n) => n[1]!),
      );
  }
  return out;
}

describe("Kubernetes pods pull with the deployer's docker login and the target's pull Secrets", () => {
  it("an environment whose image comes from a registry the deployer is logged in to pulls with the login Secret", async () => {
    const p = await plan({}, ["registry.example.com:5001", "ghcr.io"]);
    const env = p.environments[0]!;
    expect(env.registryAuth).toEqual({
      secret: "hall-app-registry-auth",
      registries: ["registry.example.com:5001"],
    });
    expect(pullSecretsOf(env.artifact.content)).toEqual({
      cache: ["hall-app-registry-auth"],
      web: ["hall-app-registry-auth"],
    });
    const ctx = { project: p.project, target: p.targetSettings, pull: p.pull, root: p.root };
    const apply = upCommands(ctx, env).find((c) => c.argv.includes("apply"))!;
    expect(apply.argv.slice(-4)).toEqual(["-f", env.artifact.path, "-f", "-"]);
    expect(apply.description).toContain(
      "Secret hall-app-registry-auth (on stdin) with your docker login for registry.example.com:5001",
    );
    expect(kubeDeleteCommand(ctx, env).argv).toContain("deployment,job,service,ingress,secret");
  });

  it("without a login for its registries, or with registryAuth: false, no login Secret is made or referenced", async () => {
    for (const p of [
      await plan({}, ["ghcr.io"]),
      await plan({ registryAuth: false }, ["registry.example.com:5001"]),
    ]) {
      const env = p.environments[0]!;
      expect(env.registryAuth).toBeUndefined();
      expect(env.artifact.content).not.toContain("imagePullSecrets");
      const ctx = { project: p.project, target: p.targetSettings, pull: p.pull, root: p.root };
      expect(upCommands(ctx, env).flatMap((c) => c.argv)).not.toContain("-");
    }
  });

  it("the target's imagePullSecrets are referenced by every pod, before the login Secret", async () => {
    const p = await plan({ imagePullSecrets: ["corp-pull", "mirror-pull"] }, ["registry.example.com:5001"]);
    expect(pullSecretsOf(p.environments[0]!.artifact.content).web).toEqual([
      "corp-pull",
      "mirror-pull",
      "hall-app-registry-auth",
    ]);
  });

  it("imagePullSecrets on a compose target, or a name Kubernetes refuses, is a one-line error naming the field", async () => {
    await expect(plan({ backend: "compose", imagePullSecrets: ["corp-pull"] })).rejects.toThrow(
      /^kaupang\.config\.json: targets\.prod\.imagePullSecrets: imagePullSecrets are for the kubernetes backend; target "prod" deploys with compose/,
    );
    await expect(plan({ imagePullSecrets: ["Corp_Pull"] })).rejects.toThrow(
      /^kaupang\.config\.json: targets\.prod\.imagePullSecrets\[0\]: "Corp_Pull" is not a Secret name/,
    );
  });

  it("the login Secret is a dockerconfigjson with the environment's labels, built only when applied", () => {
    const auth = Buffer.from("ci:s3cret").toString("base64");
    const secret = registryAuthSecret({ namespace: "hall" }, "hall", "app", "hall-app-registry-auth", {
      "registry.example.com:5001": auth,
    }) as { type: string; metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(secret.metadata.labels).toMatchObject({
      "app.kubernetes.io/managed-by": "kaupang",
      "app.kubernetes.io/instance": "hall-app",
    });
    expect(JSON.parse(Buffer.from(secret.data[".dockerconfigjson"]!, "base64").toString())).toEqual({
      auths: { "registry.example.com:5001": { auth } },
    });
  });
});

describe("a pull that cannot succeed is recognised from the pod status and its events", () => {
  const pod = (reason: string, message?: string): KubePod => ({
    metadata: { name: "web-1", labels: { "app.kubernetes.io/name": "web" } },
    spec: { containers: [{ name: "web", image: "r:5001/web@sha256:1" }] },
    status: {
      phase: "Pending",
      containerStatuses: [{ state: { waiting: { reason, ...(message ? { message } : {}) } } }],
    },
  });

  it("ErrImagePull and ImagePullBackOff are pull failures; CrashLoopBackOff is not", () => {
    expect(pullWaiting(pod("ErrImagePull", "401 Unauthorized"))).toEqual({
      reason: "ErrImagePull",
      message: "401 Unauthorized",
    });
    expect(pullWaiting(pod("ImagePullBackOff"))).toEqual({ reason: "ImagePullBackOff", message: "" });
    expect(pullWaiting(pod("CrashLoopBackOff"))).toBeUndefined();
  });

  it("the newest 'Failed to pull image' event says why a back-off pulls", () => {
    expect(
      pullEventMessage([
        { reason: "Failed", message: 'Failed to pull image "x": old', lastTimestamp: "2026-01-01T00:00:01Z" },
        {
          reason: "Failed",
          message: 'Failed to pull image "x": 401 Unauthorized',
          lastTimestamp: "2026-01-01T00:00:09Z",
        },
        { reason: "BackOff", message: 'Back-off pulling image "x"', lastTimestamp: "2026-01-01T00:00:10Z" },
      ]),
    ).toBe('Failed to pull image "x": 401 Unauthorized');
    expect(pullEventMessage([{ reason: "Pulling", message: "Pulling image" }])).toBeUndefined();
  });
});
