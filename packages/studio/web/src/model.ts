/**
 * The drawing: an environment as written (what its file exports) plus where
 * each service sits on the canvas. Every edit is a pure function returning a
 * new Doc, which is what makes undo/redo a stack of values. Edits never touch
 * a value they do not concern, so a secret reference stays `{ $secret }`.
 */
import type { DraftEnvironment, DraftService } from "./api.js";

export interface Position {
  x: number;
  y: number;
}

export interface Doc {
  name: string;
  environment: DraftEnvironment;
  positions: Record<string, Position>;
}

export type EnvEntry = string | number | boolean | { $secret: string };

export const emptyDoc = (name: string): Doc => ({ name, environment: { services: {} }, positions: {} });

/** The services as objects (a string entry is shorthand for { image }). */
export function serviceOf(doc: Doc, name: string): DraftService {
  const entry = doc.environment.services[name];
  return typeof entry === "string" ? { image: entry } : (entry ?? {});
}

export function serviceNames(doc: Doc): string[] {
  return Object.keys(doc.environment.services);
}

export function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function withServices(doc: Doc, services: Record<string, DraftService>): Doc {
  return { ...doc, environment: { ...doc.environment, services } };
}

/** A service name from a preset or a word: lowercase, digits and "-", unique in the drawing. */
export function freeName(doc: Doc, wanted: string): string {
  const base =
    wanted
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 50) || "service";
  if (!(base in doc.environment.services)) return base;
  for (let i = 2; ; i++) if (!(`${base}-${i}` in doc.environment.services)) return `${base}-${i}`;
}

export function addService(doc: Doc, name: string, service: DraftService, at: Position): Doc {
  const next = withServices(doc, { ...objects(doc), [name]: service });
  return { ...next, positions: { ...doc.positions, [name]: at } };
}

function objects(doc: Doc): Record<string, DraftService> {
  return Object.fromEntries(serviceNames(doc).map((n) => [n, serviceOf(doc, n)]));
}

/** Replace one service's fields; `undefined` removes a field. */
export function updateService(
  doc: Doc,
  name: string,
  patch: Partial<Record<keyof DraftService, unknown>>,
): Doc {
  const service: Record<string, unknown> = { ...serviceOf(doc, name) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete service[key];
    else service[key] = value;
  }
  return withServices(doc, { ...objects(doc), [name]: service as DraftService });
}

/** Rename a service, keeping its place in the drawing and every dependsOn that names it. */
export function renameService(doc: Doc, from: string, to: string): Doc {
  if (from === to || to in doc.environment.services) return doc;
  const services: Record<string, DraftService> = {};
  for (const [name, service] of Object.entries(objects(doc))) {
    const deps = listOf(service.dependsOn);
    const fixed = deps.includes(from)
      ? { ...service, dependsOn: deps.map((d) => (d === from ? to : d)) }
      : service;
    services[name === from ? to : name] = fixed;
  }
  const { [from]: at, ...positions } = doc.positions;
  return { ...withServices(doc, services), positions: { ...positions, ...(at ? { [to]: at } : {}) } };
}

export function removeServices(doc: Doc, names: readonly string[]): Doc {
  const gone = new Set(names);
  const services: Record<string, DraftService> = {};
  for (const [name, service] of Object.entries(objects(doc))) {
    if (gone.has(name)) continue;
    const deps = listOf(service.dependsOn);
    if (deps.some((d) => gone.has(d))) {
      const kept = deps.filter((d) => !gone.has(d));
      const { dependsOn: _old, ...rest } = service;
      services[name] = kept.length > 0 ? { ...rest, dependsOn: kept } : rest;
    } else services[name] = service;
  }
  const positions = Object.fromEntries(Object.entries(doc.positions).filter(([n]) => !gone.has(n)));
  return { ...withServices(doc, services), positions };
}

/** `dependent` starts after `dependency`: an edge drawn from dependency to dependent. */
export function connect(doc: Doc, dependency: string, dependent: string): Doc {
  if (dependency === dependent) return doc;
  const deps = listOf(serviceOf(doc, dependent).dependsOn);
  if (deps.includes(dependency)) return doc;
  return updateService(doc, dependent, { dependsOn: [...deps, dependency] });
}

export function disconnect(doc: Doc, dependency: string, dependent: string): Doc {
  const deps = listOf(serviceOf(doc, dependent).dependsOn).filter((d) => d !== dependency);
  return updateService(doc, dependent, { dependsOn: deps.length > 0 ? deps : undefined });
}

/** Edges as [dependency, dependent] pairs, in a stable order. */
export function edgesOf(doc: Doc): [string, string][] {
  return serviceNames(doc)
    .sort()
    .flatMap((name) =>
      listOf(serviceOf(doc, name).dependsOn)
        .slice()
        .sort()
        .map((dep): [string, string] => [dep, name]),
    );
}

/** Columns by dependency depth (dependencies left), names sorted in a column. */
export function autoLayout(doc: Doc): Record<string, Position> {
  const depth = new Map<string, number>();
  const onPath = new Set<string>();
  const visit = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (onPath.has(name)) return 0; // a cycle: the core reports it; place it anyway
    onPath.add(name);
    let d = 0;
    for (const dep of listOf(serviceOf(doc, name).dependsOn)) {
      if (dep in doc.environment.services) d = Math.max(d, visit(dep) + 1);
    }
    onPath.delete(name);
    depth.set(name, d);
    return d;
  };
  const names = serviceNames(doc).sort();
  names.forEach(visit);
  const rows = new Map<number, number>();
  const positions: Record<string, Position> = {};
  for (const name of names) {
    const column = depth.get(name) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    positions[name] = { x: 40 + column * 270, y: 40 + row * 140 };
  }
  return positions;
}

/** A free spot for a service added without a drop position (keyboard, button). */
export function nextPosition(doc: Doc): Position {
  const taken = Object.values(doc.positions);
  for (let i = 0; ; i++) {
    const at = { x: 40 + (i % 3) * 280, y: 40 + Math.floor(i / 3) * 150 };
    if (!taken.some((p) => Math.abs(p.x - at.x) < 140 && Math.abs(p.y - at.y) < 80)) return at;
  }
}
