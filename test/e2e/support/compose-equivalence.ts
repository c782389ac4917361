/**
 * What `docker compose config` reads from a compose project, in a form in
 * which the input of `kaupang init --from` and the artifacts kaupang renders
 * from the converted environments can be compared field by field.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Drop nulls, empty objects and empty arrays, recursively (compose prints defaults as empties). */
function prune(value: Json): Json | undefined {
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((v): v is Json => v !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (isObj(value)) {
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const p = v === null ? undefined : prune(v);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}

const bytes = (v: Json | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/**
 * One service as compose read it, normalised: defaults that mean nothing
 * dropped, the two spellings of limits (mem_limit/cpus and deploy.resources)
 * merged, tmpfs mounts in one list, kaupang's own labels and network removed.
 */
export function normaliseService(service: Obj, options: { composeProject: string; name: string }): Obj {
  const s: Obj = JSON.parse(JSON.stringify(service));
  const env = isObj(s.environment) ? s.environment : undefined;
  delete s.environment;
  delete s.profiles;
  if (!s.image && s.build) s.image = `${options.composeProject}-${options.name}`;
  if (s.restart === "no") delete s.restart;
  // Limits: one spelling.
  const deploy = isObj(s.deploy) ? s.deploy : {};
  const resources = isObj(deploy.resources) ? deploy.resources : {};
  const limits = isObj(resources.limits) ? resources.limits : {};
  const cpus = limits.cpus ?? s.cpus;
  const memory = bytes(limits.memory ?? s.mem_limit ?? undefined);
  delete s.cpus;
  delete s.mem_limit;
  if (cpus !== undefined && cpus !== null) limits.cpus = Number(cpus);
  if (memory !== undefined) limits.memory = memory;
  if (Object.keys(limits).length > 0) resources.limits = limits;
  if (Object.keys(resources).length > 0) deploy.resources = resources;
  if (s.scale !== undefined && deploy.replicas === undefined) deploy.replicas = s.scale;
  delete s.scale;
  if (deploy.replicas === 1) delete deploy.replicas;
  s.deploy = deploy;
  // tmpfs: a tmpfs-type volume and the tmpfs key are the same mount.
  const tmpfs = [
    ...(Array.isArray(s.tmpfs) ? s.tmpfs : typeof s.tmpfs === "string" ? [s.tmpfs] : []),
    ...(Array.isArray(s.volumes)
      ? s.volumes.filter((v) => isObj(v) && v.type === "tmpfs").map((v) => (v as Obj).target!)
      : []),
  ];
  if (Array.isArray(s.volumes)) s.volumes = s.volumes.filter((v) => !(isObj(v) && v.type === "tmpfs"));
  if (tmpfs.length > 0) s.tmpfs = tmpfs;
  else delete s.tmpfs;
  if (isObj(s.labels)) {
    for (const key of Object.keys(s.labels)) if (key.startsWith("dev.kaupang.")) delete s.labels[key];
  }
  // Networks: kaupang joins every service to the project network (reported where the input differs).
  delete s.networks;
  const out = (prune(s) ?? {}) as Obj;
  // The environment is compared with its nulls: `- VAR` passes the host's variable.
  if (env && Object.keys(env).length > 0) out.environment = env;
  return out;
}

interface Difference {
  path: string;
  expected: Json | undefined;
  actual: Json | undefined;
}

/** Paths (compose style: `services.web.ports[0].published`) where two values differ. */
export function differences(
  expected: Json | undefined,
  actual: Json | undefined,
  path: string,
): Difference[] {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
  if ((isObj(expected) || expected === undefined) && (isObj(actual) || actual === undefined)) {
    // A missing object differs key by key, so a report line can declare one key of it.
    const e: Obj = expected ?? {};
    const a: Obj = actual ?? {};
    const keys = [...new Set([...Object.keys(e), ...Object.keys(a)])].sort();
    return keys.flatMap((k) => differences(e[k], a[k], `${path}.${k}`));
  }
  if (Array.isArray(expected) && Array.isArray(actual) && expected.length === actual.length) {
    return expected.flatMap((e, i) => differences(e, actual[i], `${path}[${i}]`));
  }
  return [{ path, expected, actual }];
}
