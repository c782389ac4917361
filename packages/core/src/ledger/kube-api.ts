/**
 * A small client of the Kubernetes API for kaupang's own objects (deploy
 * state kept on the target): requests over HTTPS from this process, with the
 * credentials kubectl would use for the target — its kubeconfig (the
 * target's, else $KUBECONFIG, else ~/.kube/config; files merged as kubectl
 * merges them) and its context. A kubectl process costs ~80–100 ms where a
 * request on a kept-alive connection costs a few, and a deploy asks several.
 *
 * Supported: client certificates, bearer tokens (inline or tokenFile), basic
 * auth, exec credential plugins (az, aws, gke-gcloud-auth-plugin: run once per
 * run), certificate-authority(-data), insecure-skip-tls-verify,
 * tls-server-name. Anything else (an auth-provider, a proxy-url) — or
 * KAUPANG_KUBE_CLIENT=kubectl — sends the same requests through `kubectl
 * --raw`, so kubectl's own authentication applies.
 */

import { existsSync, readFileSync } from "node:fs";
import type { Agent } from "node:https";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { KaupangError } from "../base/errors.js";
import { readResponse } from "../base/http-body.js";
import type { TargetSettings } from "../base/target.js";
import { exec } from "../exec/exec.js";
import { parseArtifact } from "../render/yaml.js";

export interface KubeReply<T = unknown> {
  status: number;
  body: T;
}

export type KubeMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface KubeApi {
  /** Which cluster and identity, as a user reads it: "kube context prod (https://…)". */
  readonly via: string;
  request<T>(method: KubeMethod, path: string, body?: unknown, accept?: string): Promise<KubeReply<T>>;
}

/** A Kubernetes Status object's message, or the HTTP status. */
export function kubeMessage(reply: KubeReply): string {
  const body = reply.body as { message?: string } | string | undefined;
  if (typeof body === "string") return body.trim() || `HTTP ${reply.status}`;
  return body?.message ?? `HTTP ${reply.status}`;
}

interface NamedEntry<T> {
  name: string;
  [key: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}
interface KubeconfigFile {
  "current-context"?: string;
  clusters?: NamedEntry<Record<string, unknown>>[];
  users?: NamedEntry<Record<string, unknown>>[];
  contexts?: NamedEntry<Record<string, unknown>>[];
}

/** The kubeconfig files kubectl reads for `target`, in order. */
function kubeconfigFiles(target: TargetSettings, env: NodeJS.ProcessEnv): string[] {
  if (target.kubeconfig) return [target.kubeconfig];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean);
  return [join(homedir(), ".kube", "config")];
}

interface Resolved {
  server: string;
  context: string;
  cluster: Record<string, unknown>;
  user: Record<string, unknown>;
  /** Directory each of cluster and user came from (relative paths resolve against it). */
  clusterDir: string;
  userDir: string;
}

/** Merge the files as kubectl does (first definition of a name wins) and resolve the context. */
function resolveKubeconfig(target: TargetSettings, env: NodeJS.ProcessEnv): Resolved {
  const files = kubeconfigFiles(target, env).filter((f) => existsSync(f));
  const where = files.join(delimiter) || "the kubeconfig";
  let current: string | undefined;
  const clusters = new Map<string, [Record<string, unknown>, string]>();
  const users = new Map<string, [Record<string, unknown>, string]>();
  const contexts = new Map<string, Record<string, unknown>>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    let config: KubeconfigFile;
    try {
      config = (
        text.trimStart().startsWith("{") ? JSON.parse(text) : parseArtifact(text)[0]
      ) as KubeconfigFile;
    } catch (error) {
      throw new KaupangError("ERR_KUBECONFIG", `${file}: not a kubeconfig (${(error as Error).message})`);
    }
    current ??= config["current-context"] || undefined;
    for (const c of config.clusters ?? [])
      if (!clusters.has(c.name)) clusters.set(c.name, [c.cluster ?? {}, dirname(file)]);
    for (const u of config.users ?? [])
      if (!users.has(u.name)) users.set(u.name, [u.user ?? {}, dirname(file)]);
    for (const c of config.contexts ?? []) if (!contexts.has(c.name)) contexts.set(c.name, c.context ?? {});
  }
  const context = target.kubeContext ?? current;
  if (!context)
    throw new KaupangError(
      "ERR_KUBECONFIG",
      `target ${target.name}: no kube context (set kubeContext, or a current-context in ${where})`,
    );
  const ctx = contexts.get(context);
  if (!ctx)
    throw new KaupangError(
      "ERR_KUBECONFIG",
      `target ${target.name}: kube context "${context}" does not exist in ${where}`,
    );
  const [cluster, clusterDir] = clusters.get(String(ctx.cluster)) ?? [undefined, ""];
  if (!cluster?.server)
    throw new KaupangError(
      "ERR_KUBECONFIG",
      `target ${target.name}: kube context "${context}" names cluster "${String(ctx.cluster)}", which ${where} does not define`,
    );
  const [user, userDir] = users.get(String(ctx.user ?? "")) ?? [{}, ""];
  return { server: String(cluster.server).replace(/\/$/, ""), context, cluster, user, clusterDir, userDir };
}

const fileIn = (dir: string, path: unknown) => {
  const p = String(path);
  return readFileSync(isAbsolute(p) ? p : join(dir, p));
};
const dataOr = (entry: Record<string, unknown>, key: string, dir: string): Buffer | undefined =>
  entry[`${key}-data`] !== undefined
    ? Buffer.from(String(entry[`${key}-data`]), "base64")
    : entry[key] !== undefined
      ? fileIn(dir, entry[key])
      : undefined;

interface ExecCredential {
  status?: { token?: string; clientCertificateData?: string; clientKeyData?: string };
}

/** Run an exec credential plugin as kubectl would (not interactively). */
async function execCredential(
  plugin: Record<string, unknown>,
  target: string,
): Promise<ExecCredential["status"]> {
  const command = String(plugin.command);
  const args = ((plugin.args as string[] | undefined) ?? []).map(String);
  const pluginEnv = Object.fromEntries(
    ((plugin.env as { name: string; value: string }[] | undefined) ?? []).map((e) => [e.name, e.value]),
  );
  const apiVersion = String(plugin.apiVersion ?? "client.authentication.k8s.io/v1");
  const result = await exec([command, ...args], {
    quiet: true,
    bookkeeping: true,
    env: {
      ...pluginEnv,
      KUBERNETES_EXEC_INFO: JSON.stringify({
        apiVersion,
        kind: "ExecCredential",
        spec: { interactive: false },
      }),
    },
  });
  if (result.exitCode !== 0)
    throw new KaupangError(
      "ERR_STATE_DENIED",
      `target ${target}: the kubeconfig's credential plugin \`${command}\` failed: ${result.stderr.split("\n").filter(Boolean).at(-1) ?? `exit code ${result.exitCode}`}`,
    );
  return (JSON.parse(result.stdout) as ExecCredential).status;
}

const apis = new Map<string, KubeApi>();

/** The Kubernetes API of `target`, one per kubeconfig and context in a run. */
export function kubeApi(target: TargetSettings, env: NodeJS.ProcessEnv = process.env): KubeApi {
  const key = `${kubeconfigFiles(target, env).join(delimiter)}\0${target.kubeContext ?? ""}\0${env.KAUPANG_KUBE_CLIENT ?? ""}`;
  let api = apis.get(key);
  if (!api) {
    api = createKubeApi(target, env);
    apis.set(key, api);
  }
  return api;
}

function createKubeApi(target: TargetSettings, env: NodeJS.ProcessEnv): KubeApi {
  let resolved: Resolved | undefined;
  let resolveError: unknown;
  try {
    resolved = resolveKubeconfig(target, env);
  } catch (error) {
    resolveError = error;
  }
  const via = resolved
    ? `kube context ${resolved.context} (${resolved.server})`
    : `kube context ${target.kubeContext ?? "(current)"}`;
  const viaKubectl =
    env.KAUPANG_KUBE_CLIENT === "kubectl" ||
    (resolved !== undefined &&
      (resolved.user["auth-provider"] !== undefined || resolved.cluster["proxy-url"] !== undefined));
  if (resolveError && !viaKubectl) return { via, request: () => Promise.reject(resolveError) };
  if (viaKubectl) return kubectlApi(target, via);
  const r = resolved!;

  let agentPromise: Promise<{ agent: Agent; headers: Record<string, string> }> | undefined;
  const connection = async () => {
    const https = await import("node:https");
    const headers: Record<string, string> = {};
    let cert = dataOr(r.user, "client-certificate", r.userDir);
    let key = dataOr(r.user, "client-key", r.userDir);
    if (r.user.token) headers.authorization = `Bearer ${String(r.user.token)}`;
    else if (r.user.tokenFile)
      headers.authorization = `Bearer ${fileIn(r.userDir, r.user.tokenFile).toString("utf8").trim()}`;
    else if (r.user.username !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${String(r.user.username)}:${String(r.user.password ?? "")}`).toString("base64")}`;
    else if (r.user.exec) {
      const status = await execCredential(r.user.exec as Record<string, unknown>, target.name);
      if (status?.token) headers.authorization = `Bearer ${status.token}`;
      if (status?.clientCertificateData) cert = Buffer.from(status.clientCertificateData);
      if (status?.clientKeyData) key = Buffer.from(status.clientKeyData);
    }
    const ca = dataOr(r.cluster, "certificate-authority", r.clusterDir);
    const agent = new https.Agent({
      keepAlive: true,
      // A history's units are read concurrently: a few connections, not one each.
      maxSockets: 6,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(r.cluster["insecure-skip-tls-verify"] === true ? { rejectUnauthorized: false } : {}),
      ...(r.cluster["tls-server-name"] ? { servername: String(r.cluster["tls-server-name"]) } : {}),
    });
    return { agent, headers };
  };

  return {
    via,
    async request<T>(method: KubeMethod, path: string, body?: unknown, accept?: string) {
      agentPromise ??= connection();
      const { agent, headers } = await agentPromise;
      const https = await import("node:https");
      const url = new URL(r.server + path);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise<KubeReply<T>>((resolve, reject) => {
        const req = https.request(
          url,
          {
            method,
            agent,
            headers: {
              ...headers,
              accept: accept ?? "application/json",
              "user-agent": "kaupang",
              ...(payload ? { "content-type": "application/json" } : {}),
            },
            signal: AbortSignal.timeout(30_000),
          },
          (res) => readResponse<T>(res, resolve, reject),
        );
        req.on("error", (error: NodeJS.ErrnoException) =>
          reject(
            new KaupangError(
              "ERR_STATE_UNAVAILABLE",
              `target ${target.name}: cannot reach the Kubernetes API of ${via}: ${error.code ?? error.message}`,
            ),
          ),
        );
        req.end(payload);
      });
    },
  };
}

const reasons: Record<string, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  Conflict: 409,
  Forbidden: 403,
  Unauthorized: 401,
  Invalid: 422,
  BadRequest: 400,
};

/** The same requests through `kubectl --raw` (its own authentication and transport). */
function kubectlApi(target: TargetSettings, via: string): KubeApi {
  const global = [...(target.kubeContext ? ["--context", target.kubeContext] : [])];
  const kubectlEnv = target.kubeconfig ? { KUBECONFIG: target.kubeconfig } : undefined;
  const verb: Record<KubeMethod, string> = { GET: "get", POST: "create", PUT: "replace", DELETE: "delete" };
  return {
    via,
    async request<T>(method: KubeMethod, path: string, body?: unknown) {
      const argv = [
        "kubectl",
        ...global,
        verb[method],
        "--raw",
        path,
        ...(body === undefined ? [] : ["-f", "-"]),
      ];
      const result = await exec(argv, {
        quiet: true,
        bookkeeping: true,
        ...(body === undefined ? {} : { input: JSON.stringify(body) }),
        ...(kubectlEnv ? { env: kubectlEnv } : {}),
      });
      if (result.exitCode === 0) {
        let parsed: unknown = result.stdout;
        try {
          parsed = result.stdout ? JSON.parse(result.stdout) : undefined;
        } catch {
          // not JSON
        }
        return { status: 200, body: parsed as T };
      }
      const line = result.stderr.split("\n").filter(Boolean).at(-1) ?? `exit code ${result.exitCode}`;
      const reason = /Error from server \((\w+)\)/.exec(line)?.[1];
      if (!reason)
        throw new KaupangError(
          "ERR_STATE_UNAVAILABLE",
          `target ${target.name}: cannot reach the Kubernetes API of ${via}: ${line}`,
        );
      return {
        status: reasons[reason] ?? 500,
        body: { message: line.replace(/^Error from server \(\w+\): /, ""), reason } as T,
      };
    },
  };
}
