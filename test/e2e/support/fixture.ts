import { json, testdir } from "../../support/testdir.js";
import { sh } from "./kaupang.js";

export const baseImage = () =>
  process.env.KAUPANG_TEST_BASE_IMAGE_PUSHED ?? "127.0.0.1:5000/kaupang-test/busybox:latest";

/** An HTTP server service from the base image, healthy once it answers. */
export function httpService(port: number, extra: Record<string, unknown> = {}) {
  return {
    image: baseImage(),
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"],
    ports: [`${port}:8080`],
    healthcheck: {
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
      interval: "1s",
      retries: 30,
    },
    // busybox as PID 1 ignores SIGTERM; an init makes stops take milliseconds, not 10 s.
    compose: { init: true },
    ...extra,
  };
}

/** A long-running non-HTTP service (sleeps), for sidecars and workers. */
export function sleeper(extra: Record<string, unknown> = {}) {
  return { image: baseImage(), command: ["sleep", "3600"], compose: { init: true }, ...extra };
}

/**
 * A project on disk: kaupang.config.json with targets `local` (compose) and
 * `swarm` (host ports + dnsrr: this kernel has no IPVS), plus environments.
 */
export function project(
  name: string,
  environments: Record<string, unknown>,
  config: Record<string, unknown> = {},
  files: Record<string, string> = {},
): string {
  return testdir({
    "kaupang.config.json": json({
      project: name,
      environments: "./environments",
      targets: {
        local: {},
        swarm: { backend: "swarm", swarm: { portMode: "host", endpointMode: "dnsrr" } },
      },
      ...config,
    }),
    ...Object.fromEntries(
      Object.entries(environments).map(([env, body]) => [`environments/${env}.json`, json(body)]),
    ),
    ...files,
  });
}

/**
 * Build an image whose content differs by `version`, push it as `ref`
 * (`env`: e.g. a DOCKER_CONFIG holding a login); returns its registry digest.
 */
export function pushVersion(ref: string, version: string, env: Record<string, string> = {}): string {
  const build = sh(["docker", "build", "-q", "-t", ref, "-"], {
    env: { DOCKER_BUILDKIT: "0", ...env },
    input: `FROM ${baseImage()}\nRUN echo ${version} > /www/version\n`,
  });
  if (build.code !== 0) throw new Error(build.err);
  const push = sh(["docker", "push", ref], { env });
  if (push.code !== 0) throw new Error(push.err);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.out)?.[1];
  if (!digest) throw new Error(`no digest in: ${push.out}`);
  return digest;
}
