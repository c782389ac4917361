/**
 * The Kubernetes store's record log against an in-memory API server with the
 * rules that matter here (create by name is 409 when taken, an update needs
 * the resourceVersion read, a Secret is at most 1 MiB): a long history is
 * sealed into segments, and a seal cut short before the head was rewritten
 * does not wedge the log once the head has grown past it.
 */
import { describe, expect, it } from "vitest";
import type { KubeApi, KubeReply } from "./kube-api.js";
import { kubeStore } from "./kube-store.js";
import type { RecordLine } from "./store.js";

interface Secret {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

/** Secrets of one namespace, as the API server keeps them. */
function memoryApi() {
  const secrets = new Map<string, Secret>();
  let version = 0;
  const size = (s: Secret) =>
    Object.values(s.data ?? {}).reduce((n, v) => n + Buffer.from(v, "base64").length, 0);
  const reply = <T>(status: number, body: unknown): KubeReply<T> => ({ status, body: body as T });
  const api: KubeApi = {
    via: "kube context memory",
    async request<T>(method: string, path: string, body?: unknown) {
      const [, query] = path.split("?");
      const name = decodeURIComponent(path.split("?")[0]!.split("/secrets")[1]?.replace(/^\//, "") ?? "");
      const written = body as Secret | undefined;
      if (written && size(written) > 1024 * 1024)
        return reply<T>(422, { message: "data: Too long: may not be more than 1048576 bytes" });
      if (method === "GET" && !name) {
        const kind = /kaupang\.dev\/kind=(\w+)/.exec(decodeURIComponent(query ?? ""))?.[1];
        return reply<T>(200, {
          items: [...secrets.values()].filter((s) => s.metadata.labels?.["kaupang.dev/kind"] === kind),
        });
      }
      if (method === "GET") return secrets.has(name) ? reply<T>(200, secrets.get(name)) : reply<T>(404, {});
      if (method === "POST") {
        if (secrets.has(written!.metadata.name)) return reply<T>(409, { message: "already exists" });
        const stored = {
          ...written!,
          metadata: { ...written!.metadata, resourceVersion: String(++version) },
        };
        secrets.set(stored.metadata.name, stored);
        return reply<T>(201, stored);
      }
      if (method === "PUT") {
        const current = secrets.get(name);
        if (!current) return reply<T>(404, {});
        if (current.metadata.resourceVersion !== written!.metadata.resourceVersion)
          return reply<T>(409, { message: "the object has been modified" });
        const stored = {
          ...written!,
          metadata: { ...written!.metadata, resourceVersion: String(++version) },
        };
        secrets.set(name, stored);
        return reply<T>(200, stored);
      }
      return reply<T>(405, {});
    },
  };
  return { api, secrets };
}

const storeOn = (api: KubeApi) =>
  kubeStore({
    project: "shop",
    target: { name: "k8s", backend: "kubernetes", namespace: "shop" },
    scope: { environment: "app", target: "k8s" },
    leaseMs: 30_000,
    api,
  });

/** Record lines of about 2 KiB each, with their sequence numbers. */
const lines = (from: number, count: number): RecordLine[] =>
  Array.from({ length: count }, (_, i) => ({
    seq: from + i,
    line: JSON.stringify({ seq: from + i, pad: "x".repeat(2000) }),
  }));

/** Append in batches, as the ledger does: readTail, then appends. */
async function appendAll(store: ReturnType<typeof storeOn>, records: RecordLine[], batch = 100) {
  await store.readTail();
  for (let i = 0; i < records.length; i += batch) {
    const part = records.slice(i, i + batch);
    await store.append(part, `anchor ${part.at(-1)!.seq}`);
  }
}

describe("kube store: the record log", () => {
  it("a long history is sealed into segments under the size limit and read back in order", async () => {
    const { api, secrets } = memoryApi();
    const store = storeOn(api);
    await appendAll(store, lines(1, 1000));
    const { lines: read } = await store.readRecords();
    expect(read.map((l) => JSON.parse(l).seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect([...secrets.keys()].filter((n) => /\.s\d+$/.test(n)).length).toBeGreaterThanOrEqual(3);
    expect((await store.readTail()).anchor).toBe("anchor 1000");
  });

  it("a seal cut short before the head was rewritten, then more appends: the next seal takes the grown head", async () => {
    const { api, secrets } = memoryApi();
    const store = storeOn(api);
    await appendAll(store, lines(1, 10), 10);
    // What an interrupted seal leaves: the segment of the head's records then, the head unchanged.
    const head = [...secrets.values()].find((s) => s.metadata.name.endsWith(".head"))!;
    const segment = head.metadata.name.replace(/\.head$/, ".s1");
    secrets.set(segment, {
      ...head,
      metadata: { ...head.metadata, name: segment, resourceVersion: "0", labels: head.metadata.labels! },
      data: { records: head.data!.records! },
    });
    // The head grows (small appends, no seal), then passes the limit and seals.
    await appendAll(store, lines(11, 400), 50);
    const { lines: read } = await store.readRecords();
    expect(read.map((l) => JSON.parse(l).seq)).toEqual(Array.from({ length: 410 }, (_, i) => i + 1));
  });

  it("a segment that is not a prefix of the head is someone else's write: changed, nothing written", async () => {
    const { api, secrets } = memoryApi();
    const store = storeOn(api);
    await appendAll(store, lines(1, 10), 10);
    const head = [...secrets.values()].find((s) => s.metadata.name.endsWith(".head"))!;
    const segment = head.metadata.name.replace(/\.head$/, ".s1");
    secrets.set(segment, {
      metadata: { name: segment, resourceVersion: "0", labels: head.metadata.labels! },
      data: { records: Buffer.from('{"seq":1,"other":true}\n').toString("base64") },
    });
    await expect(appendAll(store, lines(11, 400), 400)).rejects.toMatchObject({ code: "ERR_LEDGER_CHANGED" });
  });
});
