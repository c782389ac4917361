/**
 * Scale on fake nodes. Every other test of this tier runs its pods on the real
 * node; here kwok simulates 100 more nodes (no container runs on them: kwok
 * only writes pod status), and kaupang deploys a service of 100 replicas spread
 * over them. The fake nodes carry the taint every kwok node of the cluster has,
 * so only pods that tolerate it and select them land there.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  baseImage,
  deleteNamespaces,
  fresh,
  getJson,
  k8sProject,
  kubectl,
  kubectlApply,
  livePods,
  names,
  realNode,
  requireCluster,
  runningOnNode,
  withInit,
  withPodSpec,
} from "./support.js";

const count = 100;
const scale = randomBytes(3).toString("hex");
const nodeName = (i: number) => `kwok-scale-${scale}-${i}`;
const fakeTaint = { key: "kwok.x-k8s.io/node", value: "fake", effect: "NoSchedule" };

function fakeNodes(): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: nodeName(i),
        annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
        labels: {
          type: "kwok",
          "kaupang.dev/scale": scale,
          "kubernetes.io/hostname": nodeName(i),
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
        },
      },
      spec: { taints: [fakeTaint] },
      status: {
        capacity: { cpu: "32", memory: "256Gi", pods: "110" },
        allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      },
    }),
  ).join("\n");
}

beforeAll(async () => {
  await requireCluster();
  kubectlApply(fakeNodes());
  // kwok takes the nodes over (they have its annotation) and reports them Ready.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const ready = kubectl(
      "get",
      "nodes",
      "-l",
      `kaupang.dev/scale=${scale}`,
      "-o",
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
    ).out.split("\n");
    if (ready.filter((s) => s === "True").length === count) break;
    if (Date.now() > deadline)
      throw new Error(`only ${ready.filter((s) => s === "True").length}/${count} fake nodes Ready`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

afterAll(() => {
  deleteNamespaces();
  kubectl("delete", "nodes", "-l", `kaupang.dev/scale=${scale}`, "--wait=false");
});

describe("kubernetes backend at scale: 100 fake (kwok) nodes beside the real node", () => {
  it("spreads 100 replicas over 100 fake nodes, while a service without the toleration runs on the real node", async () => {
    const name = fresh("k8s-scale");
    const fleet = withPodSpec(
      { image: baseImage(), command: ["sleep", "3600"], replicas: count },
      {
        tolerations: [{ key: fakeTaint.key, operator: "Exists", effect: "NoSchedule" }],
        nodeSelector: { "kaupang.dev/scale": scale },
        topologySpreadConstraints: [
          {
            maxSkew: 1,
            topologyKey: "kubernetes.io/hostname",
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: { matchLabels: { "app.kubernetes.io/name": "fleet" } },
          },
        ],
      },
    );
    const dir = k8sProject(name, {
      app: { services: { fleet, local: withInit({ image: baseImage(), command: ["sleep", "3600"] }) } },
    });
    const r = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(r.code, r.stderr).toBe(0);

    const pods = livePods(name, name, "app", "fleet");
    expect(pods).toHaveLength(count);
    expect(pods.every((p) => p.phase === "Running" && p.ready)).toBe(true);
    // One per fake node (the spread constraint), none on the real node.
    const nodes = new Set(pods.map((p) => p.node));
    expect(nodes.size).toBe(count);
    expect([...nodes].every((n) => n.startsWith(`kwok-scale-${scale}-`))).toBe(true);
    // kwok only writes status: no container of the fleet exists on the real node.
    expect(pods.some((p) => p.containerID.startsWith("containerd://"))).toBe(false);
    const [local] = runningOnNode(name, name, "app", "local");
    expect(local!.node).toBe(realNode());
    const fleetDeployment = getJson("deployment", "-n", name, "fleet");
    expect(fleetDeployment.status.readyReplicas).toBe(count);

    const down = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir]);
    expect(down.code, down.stderr).toBe(0);
    expect(names("pods", name)).toEqual([]);
  });
});
