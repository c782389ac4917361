/**
 * `up` reads back the digest the kubelet pulled (the pod status' imageID) and
 * fails when it is not the one kaupang pinned. Provoked on the real node the
 * way it happens to users: the kubernetes: escape hatch replaces the container
 * with a stale, hard-coded image tag, so the pod runs another digest than the
 * resolved one and the spec itself names no digest at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang } from "../support/kaupang.js";
import {
  deleteNamespaces,
  fresh,
  k8sProject,
  livePods,
  pushVersion,
  registry,
  requireCluster,
  withPodSpec,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /^(error|hint): /.test(l));

describe("the digest running is checked against the pinned one after the deploy", () => {
  it("up fails naming the service and both digests when the pod runs another image than the pinned one", async () => {
    const name = fresh();
    const repo = `${registry()}/${name}/web`;
    const stale = pushVersion(`${repo}:one`, "one");
    const pinned = pushVersion(`${repo}:latest`, "two");
    expect(stale).not.toBe(pinned);
    const web = withPodSpec(
      { image: `${repo}:latest`, command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"], ports: ["8080"] },
      {
        shareProcessNamespace: true,
        // The escape hatch's containers replace the rendered ones (arrays replace): a stale tag wins.
        containers: [
          { name: "web", image: `${repo}:one`, command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"] },
        ],
      },
    );
    const dir = k8sProject(name, { app: { services: { web } } });
    const up = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir]);
    expect(up.code).not.toBe(0);
    // The pod really runs: the kubelet pulled the stale tag's digest, which no manifest names.
    const [pod] = livePods(name, name, "app", "web");
    expect(pod!.image).toBe(`${repo}:one`);
    expect(pod!.pulled).toBe(stale);
    expect(errorLines(up.stderr)[0]).toBe(`error: app: service web runs ${stale}, not the pinned ${pinned}`);

    const history = await kaupang(["history", "app", "--target", "k8s", "--output", "json", "--cwd", dir]);
    expect(history.code, history.stderr).toBe(0);
    expect(JSON.parse(history.stdout)).toMatchObject([{ status: "failed", failedStep: "verify" }]);
  });
});
