/**
 * Deploy state in the target's Kubernetes namespace, the way Helm keeps its
 * releases there — written through the API with the deploy's own kubeconfig
 * and context (kube-api.ts):
 *
 * - the lock: a coordination.k8s.io/v1 Lease `<base>`. holderIdentity names
 *   the holder (user@host pid), the annotation kaupang.dev/holder carries its
 *   full text (host, user, CI run, since, command, children), and
 *   leaseDurationSeconds / renewTime its lease. Taking a free Lease, renewing
 *   it and releasing it (holderIdentity cleared) are updates with the
 *   resourceVersion read: the API server refuses a stale one (409), so two
 *   machines never both hold it. A Lease created anew is atomic by name.
 * - the records: Secrets of type kaupang.dev/state labelled kaupang.dev/kind=log.
 *   `<base>.head` holds the latest records (key `records`, one per line) and
 *   the head anchor (key `anchor`), written together by one update with the
 *   resourceVersion the append read: a compare-and-swap, one request. When the
 *   head would pass 512 KiB its records are first sealed into `<base>.s<first
 *   seq>` (objects are limited to 1 MiB), so a long history is a few objects.
 * - the units: Secrets `<base>.u.<sha256 hex>` (kind=unit), content-addressed
 *   and never changed; a unit over 768 KiB is split into parts
 *   `<base>.u.<hex>.<i>` (kind=part), written before the unit object.
 *
 * Secrets, not ConfigMaps, because units carry every literal env value of a
 * deploy (never a secret() value: those are not in units or records).
 * Everything carries app.kubernetes.io/managed-by=kaupang, kaupang.dev/state
 * (the scope's key) and the project, environment and target; `kaupang down`
 * removes none of it. The Role a deploying identity needs is in the README.
 */
import { KaupangError } from "../base/errors.js";
import type { TargetSettings } from "../base/target.js";
import { type KubeApi, type KubeReply, kubeApi, kubeMessage } from "./kube-api.js";
import {
  type LockState,
  type RecordLine,
  type Scope,
  type StateStore,
  scopeKey,
  type Tail,
} from "./store.js";

const segmentLimit = 512 * 1024;
const partLimit = 768 * 1024;
const secretType = "kaupang.dev/state";
const holderAnnotation = "kaupang.dev/holder";
const firstSeqAnnotation = "kaupang.dev/first-seq";
const partsAnnotation = "kaupang.dev/parts";

interface Meta {
  name: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Secret {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  type?: string;
  data?: Record<string, string>;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** A DNS-1123 piece of a name: lowercase letters, digits and dashes. */
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "") || "x";

/** A label value as Kubernetes accepts it, or undefined. */
const labelValue = (text: string) =>
  text.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(text) ? text : undefined;

const decode = (value: string | undefined) => (value ? Buffer.from(value, "base64").toString("utf8") : "");
const encode = (text: string) => Buffer.from(text).toString("base64");
const seqOf = (line: string) => Number(/"seq":(\d+)/.exec(line)?.[1] ?? 0);
const linesOf = (text: string) => text.split("\n").filter((l) => l.length > 0);

/** MicroTime as the API wants it: RFC 3339 with microseconds. */
const microTime = (date = new Date()) => date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** Who holds the lock, short, for Lease.spec.holderIdentity. */
function holderIdentity(text: string): string {
  try {
    const h = JSON.parse(text) as { user?: string; host?: string; pid?: number };
    return `${h.user ? `${h.user}@` : ""}${h.host ?? "?"} pid ${h.pid ?? "?"}`;
  } catch {
    return "kaupang";
  }
}

interface KubeStoreOptions {
  project: string;
  target: TargetSettings;
  scope: Scope;
  leaseMs: number;
  api?: KubeApi;
}

export function kubeStore(options: KubeStoreOptions): StateStore {
  const { project, target, scope } = options;
  const api = options.api ?? kubeApi(target);
  const ns = target.namespace;
  const key = scopeKey(project, scope);
  const base = `kaupang.${slug(scope.environment)}.${slug(scope.target)}.${key}`;
  const headName = `${base}.head`;
  const secrets = `/api/v1/namespaces/${ns}/secrets`;
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
  const where = `namespace ${ns} on ${api.via}`;
  const labels = (kind: string) => ({
    "app.kubernetes.io/managed-by": "kaupang",
    "kaupang.dev/state": key,
    "kaupang.dev/kind": kind,
    ...Object.fromEntries(
      (
        [
          ["kaupang.dev/project", project],
          ["kaupang.dev/environment", scope.environment],
          ["kaupang.dev/target", scope.target],
        ] as const
      ).flatMap(([k, v]) => (labelValue(v) ? [[k, v]] : [])),
    ),
  });
  const annotations = { "kaupang.dev/scope": JSON.stringify({ project, ...scope }) };
  const selector = (kind: string) =>
    `labelSelector=${encodeURIComponent(`kaupang.dev/state=${key},kaupang.dev/kind=${kind}`)}`;

  /** A one-line error for a refused request: the target, what was asked, and the API's words (which name the permission). */
  const refused = (doing: string, reply: KubeReply) => {
    const message = kubeMessage(reply);
    if (reply.status === 401 || reply.status === 403)
      return new KaupangError(
        "ERR_STATE_DENIED",
        `target ${scope.target}: the Kubernetes API refuses to let kaupang ${doing} its state in ${where}: ${message}`,
        {
          hint: 'the deploying identity needs a Role in that namespace allowing leases (coordination.k8s.io: get, create, update) and secrets (get, list, create, update); see the README, "Deploy state on the target"',
        },
      );
    return new KaupangError(
      "ERR_STATE_UNAVAILABLE",
      `target ${scope.target}: cannot ${doing} kaupang's state in ${where}: ${message}`,
    );
  };
  const ok = (reply: KubeReply) => reply.status >= 200 && reply.status < 300;

  /** Create the namespace the first time state is written to it (the deploy would create it next). */
  const ensureNamespace = async () => {
    const reply = await api.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: ns,
        labels: { "app.kubernetes.io/part-of": project, "app.kubernetes.io/managed-by": "kaupang" },
      },
    });
    if (!ok(reply) && reply.status !== 409) throw refused(`create namespace ${ns} for`, reply);
  };
  const namespaceMissing = (reply: KubeReply) =>
    reply.status === 404 && (reply.body as { details?: { kind?: string } })?.details?.kind === "namespaces";

  /** POST, creating the namespace first when it does not exist yet. */
  const create = async (path: string, body: unknown, doing: string): Promise<KubeReply> => {
    let reply = await api.request("POST", path, body);
    if (namespaceMissing(reply)) {
      await ensureNamespace();
      reply = await api.request("POST", path, body);
    }
    if (!ok(reply) && reply.status !== 409) throw refused(doing, reply);
    return reply;
  };

  const getSecret = async (name: string, doing: string): Promise<Secret | undefined> => {
    const reply = await api.request<Secret>("GET", `${secrets}/${name}`);
    if (reply.status === 404) return undefined;
    if (!ok(reply)) throw refused(doing, reply);
    return reply.body;
  };

  /** The head as the last readTail saw it: an append updates exactly that version. */
  let seenHead: { secret?: Secret } | undefined;

  const readHead = async () => {
    const secret = await getSecret(headName, "read");
    seenHead = secret ? { secret } : {};
    return secret;
  };

  const changed = () =>
    new KaupangError(
      "ERR_LEDGER_CHANGED",
      `${where}: the records of ${scope.environment}@${scope.target} changed while one was being appended; nothing was written`,
      { hint: "another deploy wrote without holding the lock (its lease ran out?): run the command again" },
    );

  const logSecret = (
    name: string,
    records: string,
    firstSeq: number,
    extra: Record<string, string> = {},
  ): Secret => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      labels: labels("log"),
      annotations: { ...annotations, [firstSeqAnnotation]: String(firstSeq) },
    },
    type: secretType,
    data: {
      records: encode(records),
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, encode(v)])),
    },
  });

  // The Lease as this process last wrote it (replaced in full on renewal).
  let myLease: Lease | undefined;

  const leaseBody = (text: string, previous?: Lease): Lease => {
    const now = microTime();
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        ...(previous?.metadata ?? {}),
        name: base,
        labels: labels("lock"),
        annotations: { ...annotations, [holderAnnotation]: text },
      },
      spec: {
        holderIdentity: holderIdentity(text),
        leaseDurationSeconds: Math.ceil(options.leaseMs / 1000),
        acquireTime: now,
        renewTime: now,
        leaseTransitions: (previous?.spec.leaseTransitions ?? 0) + (previous ? 1 : 0),
      },
    };
  };

  const readLease = async (): Promise<Lease | undefined> => {
    const reply = await api.request<Lease>("GET", `${leases}/${base}`);
    if (reply.status === 404) return undefined;
    if (!ok(reply)) throw refused("read the lock of", reply);
    return reply.body;
  };

  return {
    scope,
    location: `Secrets ${base}.* in ${where}`,
    lockLocation: `Lease ${base} in ${where}`,
    anchorLocation: `Secret ${headName} in ${where}`,
    leaseMs: options.leaseMs,

    async readRecords() {
      const reply = await api.request<{ items: Secret[] }>("GET", `${secrets}?${selector("log")}`);
      if (!ok(reply)) throw refused("read", reply);
      const objects = reply.body.items
        .map((s) => ({
          first: Number(s.metadata.annotations?.[firstSeqAnnotation] ?? 0),
          head: s.metadata.name === headName,
          lines: linesOf(decode(s.data?.records)),
        }))
        // Sealed segments in order, the head last.
        .sort((a, b) => (a.head ? 1 : b.head ? -1 : a.first - b.first));
      // A seal interrupted before the head was rewritten leaves records in both: keep each once.
      const lines: string[] = [];
      let last = 0;
      for (const o of objects)
        for (const line of o.lines) {
          const seq = seqOf(line);
          if (seq > last) {
            lines.push(line);
            last = seq;
          }
        }
      return { lines };
    },

    async readTail(): Promise<Tail> {
      const head = await readHead();
      if (!head) return {};
      const line = linesOf(decode(head.data?.records)).at(-1);
      const anchor = head.data?.anchor ? decode(head.data.anchor) : undefined;
      return { ...(line ? { line } : {}), ...(anchor ? { anchor } : {}) };
    },

    async saveTorn() {
      throw new Error("the Kubernetes store writes whole objects: it never has a torn record");
    },

    async append(records: readonly RecordLine[], anchor: string) {
      if (records.length === 0) return;
      const head = seenHead ? seenHead.secret : await readHead();
      seenHead = undefined;
      const added = records.map((r) => `${r.line}\n`).join("");
      if (!head) {
        const reply = await create(
          secrets,
          logSecret(headName, added, records[0]!.seq, { anchor }),
          "write the records of",
        );
        if (reply.status === 409) throw changed();
        seenHead = { secret: reply.body as Secret };
        return;
      }
      let text = decode(head.data?.records);
      let first = Number(head.metadata.annotations?.[firstSeqAnnotation] ?? records[0]!.seq);
      if (text.length > 0 && Buffer.byteLength(text) + Buffer.byteLength(added) > segmentLimit) {
        // Seal the full head first; a reader keeps each record once if we stop in between.
        const sealed = `${base}.s${first}`;
        const reply = await create(secrets, logSecret(sealed, text, first), "write the records of");
        if (reply.status === 409) {
          const existing = await getSecret(sealed, "read");
          const was = decode(existing?.data?.records);
          if (!existing || !text.startsWith(was)) throw changed();
          if (was !== text) {
            // An earlier seal stopped before the head was rewritten, and the head kept growing:
            // its records are a prefix of the head's, so the segment takes the head's as they are now.
            const update = logSecret(sealed, text, first);
            update.metadata.resourceVersion = existing.metadata.resourceVersion!;
            const put = await api.request("PUT", `${secrets}/${sealed}`, update);
            if (put.status === 409 || put.status === 404) throw changed();
            if (!ok(put)) throw refused("write the records of", put);
          }
        }
        text = "";
        first = records[0]!.seq;
      }
      const next = logSecret(headName, text + added, first, { anchor });
      next.metadata.resourceVersion = head.metadata.resourceVersion!;
      const reply = await api.request<Secret>("PUT", `${secrets}/${headName}`, next);
      if (reply.status === 409 || reply.status === 404) throw changed();
      if (!ok(reply)) throw refused("write the records of", reply);
      seenHead = { secret: reply.body };
    },

    async readAnchor() {
      const head = await getSecret(headName, "read");
      return head?.data?.anchor ? decode(head.data.anchor) : undefined;
    },

    async putUnit(digest, text) {
      const hex = digest.slice(digest.indexOf(":") + 1);
      const name = `${base}.u.${hex}`;
      const unitMeta = (kind: string, extra: Record<string, string> = {}) => ({
        labels: labels(kind),
        annotations: { ...annotations, "kaupang.dev/digest": digest, ...extra },
      });
      if (Buffer.byteLength(text) <= partLimit) {
        await create(
          secrets,
          {
            apiVersion: "v1",
            kind: "Secret",
            type: secretType,
            metadata: { name, ...unitMeta("unit") },
            data: { unit: encode(text) },
          },
          "write a deployment unit of",
        );
        return;
      }
      const bytes = Buffer.from(text);
      const count = Math.ceil(bytes.length / partLimit);
      // Parts first: a unit object that exists is complete. (Bytes are split anywhere: they are joined before decoding.)
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          create(
            secrets,
            {
              apiVersion: "v1",
              kind: "Secret",
              type: secretType,
              metadata: { name: `${name}.${i}`, ...unitMeta("part") },
              data: { part: bytes.subarray(i * partLimit, (i + 1) * partLimit).toString("base64") },
            },
            "write a deployment unit of",
          ),
        ),
      );
      await create(
        secrets,
        {
          apiVersion: "v1",
          kind: "Secret",
          type: secretType,
          metadata: { name, ...unitMeta("unit", { [partsAnnotation]: String(count) }) },
          data: {},
        },
        "write a deployment unit of",
      );
    },

    async getUnit(digest) {
      const name = `${base}.u.${digest.slice(digest.indexOf(":") + 1)}`;
      const unit = await getSecret(name, "read a deployment unit of");
      if (!unit) return undefined;
      const count = Number(unit.metadata.annotations?.[partsAnnotation] ?? 0);
      if (count === 0) return decode(unit.data?.unit);
      const parts = await Promise.all(
        Array.from({ length: count }, (_, i) => getSecret(`${name}.${i}`, "read a deployment unit of")),
      );
      if (parts.some((p) => !p?.data?.part)) return undefined;
      return Buffer.concat(parts.map((p) => Buffer.from(p!.data!.part!, "base64"))).toString("utf8");
    },

    async hasUnits(digests) {
      if (digests.length === 0) return new Set();
      // Names only: the API server sends each Secret's metadata, not its data.
      const reply = await api.request<{ items: { metadata: Meta }[] }>(
        "GET",
        `${secrets}?${selector("unit")}`,
        undefined,
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
      );
      if (!ok(reply)) throw refused("read", reply);
      const stored = new Set(reply.body.items.map((i) => i.metadata.annotations?.["kaupang.dev/digest"]));
      return new Set(digests.filter((d) => stored.has(d)));
    },

    unitLocation: (digest) => `Secret ${base}.u.${digest.slice(digest.indexOf(":") + 1)} in ${where}`,

    async createLock(text) {
      const reply = await create(leases, leaseBody(text), "take the lock of");
      if (reply.status !== 409) {
        myLease = reply.body as Lease;
        return myLease.metadata.resourceVersion!;
      }
      // The Lease exists: free (released) means it can be taken, with the version read.
      const lease = await readLease();
      if (!lease || lease.spec.holderIdentity) return undefined;
      const taken = await api.request<Lease>("PUT", `${leases}/${base}`, leaseBody(text, lease));
      if (taken.status === 409 || taken.status === 404) return undefined;
      if (!ok(taken)) throw refused("take the lock of", taken);
      myLease = taken.body;
      return myLease.metadata.resourceVersion!;
    },

    async readLock(): Promise<LockState | undefined> {
      const lease = await readLease();
      if (!lease?.spec.holderIdentity) return undefined;
      return {
        text: lease.metadata.annotations?.[holderAnnotation] ?? lease.spec.holderIdentity,
        version: lease.metadata.resourceVersion!,
      };
    },

    async replaceLock(text) {
      if (!myLease) throw new Error("replaceLock: this process holds no lock here");
      const next = leaseBody(text, myLease);
      next.spec.acquireTime = myLease.spec.acquireTime ?? null;
      next.spec.leaseTransitions = myLease.spec.leaseTransitions ?? 0;
      const reply = await api.request<Lease>("PUT", `${leases}/${base}`, next);
      if (reply.status === 409 || reply.status === 404) {
        myLease = undefined;
        throw new KaupangError(
          "ERR_LOCK_LOST",
          `lost the lock of ${scope.environment}@${scope.target} (Lease ${base}): another run took it over after its lease ran out`,
        );
      }
      if (!ok(reply)) throw refused("renew the lock of", reply);
      myLease = reply.body;
      return myLease.metadata.resourceVersion!;
    },

    async removeLock(ifVersion) {
      const lease = ifVersion === myLease?.metadata.resourceVersion && myLease ? myLease : await readLease();
      if (!lease?.spec.holderIdentity) return false;
      if (ifVersion !== undefined && lease.metadata.resourceVersion !== ifVersion) return false;
      // Released, not deleted: the Lease keeps its transitions, and no delete permission is needed.
      const released: Lease = {
        ...lease,
        metadata: { ...lease.metadata, annotations: { ...annotations } },
        spec: { ...lease.spec, holderIdentity: null, renewTime: null, acquireTime: null },
      };
      const reply = await api.request<Lease>("PUT", `${leases}/${base}`, released);
      if (lease === myLease) myLease = undefined;
      if (reply.status === 409 || reply.status === 404) return false;
      if (!ok(reply)) throw refused("release the lock of", reply);
      return true;
    },
  };
}

/** The environments of `project` with state in the target's namespace (from their head Secrets). */
export async function kubeScopes(options: {
  project: string;
  target: TargetSettings;
  api?: KubeApi;
}): Promise<Scope[]> {
  const api = options.api ?? kubeApi(options.target);
  const reply = await api.request<{ items: { metadata: Meta }[] }>(
    "GET",
    `/api/v1/namespaces/${options.target.namespace}/secrets?labelSelector=${encodeURIComponent("app.kubernetes.io/managed-by=kaupang,kaupang.dev/kind=log")}`,
    undefined,
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json",
  );
  if (reply.status === 404) return [];
  if (reply.status < 200 || reply.status >= 300)
    throw new KaupangError(
      reply.status === 401 || reply.status === 403 ? "ERR_STATE_DENIED" : "ERR_STATE_UNAVAILABLE",
      `target ${options.target.name}: cannot list kaupang's state in namespace ${options.target.namespace} on ${api.via}: ${kubeMessage(reply)}`,
    );
  const environments = new Set<string>();
  for (const item of reply.body.items) {
    try {
      const scope = JSON.parse(item.metadata.annotations?.["kaupang.dev/scope"] ?? "") as {
        project?: string;
        environment?: string;
        target?: string;
      };
      if (scope.project === options.project && scope.target === options.target.name && scope.environment)
        environments.add(scope.environment);
    } catch {
      // not one of ours
    }
  }
  return [...environments].sort().map((environment) => ({ environment, target: options.target.name }));
}
