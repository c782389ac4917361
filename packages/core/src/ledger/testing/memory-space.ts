/** An ObjectSpace in memory, with the same rule as swarm configs and engine volumes: a name is created once. */
import type { ObjectKind, ObjectSpace, SpaceObject } from "../object-store.js";

interface MemorySpace extends ObjectSpace {
  objects: Map<string, SpaceObject & { kind: ObjectKind }>;
  /** Requests served, by operation. */
  calls: Record<"create" | "get" | "list" | "remove", number>;
}

export function memorySpace(maxData = 1024 * 1024): MemorySpace {
  const objects = new Map<string, SpaceObject & { kind: ObjectKind }>();
  const calls = { create: 0, get: 0, list: 0, remove: 0 };
  // Every operation yields first, as a request would, so concurrent callers interleave.
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return {
    objects,
    calls,
    location: "memory",
    maxData,
    objectLocation: (name) => `memory ${name}`,
    async create(name, kind, data, labels = {}) {
      calls.create++;
      await tick();
      if (data.length === 0) throw new Error(`memory ${name}: no data (swarm refuses a config without data)`);
      if (objects.has(name)) return false;
      objects.set(name, { name, kind, data, labels: { ...labels } });
      return true;
    },
    async get(name) {
      calls.get++;
      await tick();
      const o = objects.get(name);
      return o && { name: o.name, data: o.data, labels: { ...o.labels } };
    },
    async list(kind) {
      calls.list++;
      await tick();
      return [...objects.values()]
        .filter((o) => o.kind === kind)
        .map((o) => ({ name: o.name, data: o.data, labels: { ...o.labels } }));
    },
    async remove(name) {
      calls.remove++;
      await tick();
      objects.delete(name);
    },
  };
}
