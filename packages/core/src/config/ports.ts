/** A parsed port mapping; `published` is absent for container-only ports. */
export interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
  protocol: "tcp" | "udp";
}

const inRange = (n: number) => n >= 1 && n <= 65535;

const shapes = '"host:container", "container" or "ip:host:container"';

/** Why `value` is not a port mapping (ranges allowed), or undefined when it is one. */
export function portProblem(value: string | number): string | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && inRange(value)
      ? undefined
      : `${value} is out of range (ports are 1-65535)`;
  }
  let text = value.trim();
  const slash = text.lastIndexOf("/");
  if (slash !== -1) {
    const proto = text.slice(slash + 1);
    if (proto !== "tcp" && proto !== "udp") return `protocol ${JSON.stringify(proto)} is not tcp or udp`;
    text = text.slice(0, slash);
  }
  const parts = text.split(":");
  if (text === "" || parts.length > 3) return `use ${shapes}`;
  const ports = parts.length === 3 ? parts.slice(1) : parts;
  if (parts.length === 3 && parts[0] === "")
    return `the host IP before ${JSON.stringify(`:${parts[1]}`)} is empty`;
  const spans: [number, number][] = [];
  for (const p of ports) {
    const m = /^(\d+)-(\d+)$/.exec(p);
    if (!m && !/^\d+$/.test(p)) return `${JSON.stringify(p)} is not a port number (${shapes}, or ranges)`;
    const [from, to] = m ? [Number(m[1]), Number(m[2])] : [Number(p), Number(p)];
    for (const n of [from, to]) if (!inRange(n)) return `${n} is out of range (ports are 1-65535)`;
    if (from > to) return `the range ${p} runs backwards`;
    spans.push([from, to]);
  }
  if (new Set(spans.map(([from, to]) => to - from)).size > 1) {
    return `the ranges ${ports.join(" and ")} differ in length`;
  }
  return undefined;
}

/** Parse "8080:3000", "3000", "127.0.0.1:8080:3000/udp" or a number; undefined when malformed. */
export function parsePort(value: string | number): PortMapping | undefined {
  if (portProblem(value) !== undefined || (typeof value === "string" && value.includes("-")))
    return undefined;
  if (typeof value === "number") return { target: value, protocol: "tcp" };
  let text = value.trim();
  let protocol: "tcp" | "udp" = "tcp";
  const slash = text.lastIndexOf("/");
  if (slash !== -1) {
    protocol = text.slice(slash + 1) as "tcp" | "udp";
    text = text.slice(0, slash);
  }
  const parts = text.split(":");
  const numbers = parts.slice(parts.length === 3 ? 1 : 0).map(Number);
  const target = numbers[numbers.length - 1]!;
  const published = numbers.length === 2 ? numbers[0] : undefined;
  const hostIp = parts.length === 3 ? parts[0] : undefined;
  return {
    ...(hostIp === undefined ? {} : { hostIp }),
    ...(published === undefined ? {} : { published }),
    target,
    protocol,
  };
}

const range = /^(\d{1,5})-(\d{1,5})$/;

/**
 * Parse a mapping that may use ranges ("8000-8001:8000-8001", "9000-9002",
 * "127.0.0.1:8000-8001:80-81/udp") into one mapping per port; undefined when
 * malformed, descending, or when the host and container ranges differ in length.
 */
export function parsePorts(value: string | number): PortMapping[] | undefined {
  if (typeof value === "number" || !value.includes("-")) {
    const single = parsePort(value);
    return single ? [single] : undefined;
  }
  let text = value.trim();
  let suffix = "";
  const slash = text.lastIndexOf("/");
  if (slash !== -1) {
    suffix = text.slice(slash);
    text = text.slice(0, slash);
  }
  const parts = text.split(":");
  if (parts.length > 3) return undefined;
  const prefix = parts.length === 3 ? `${parts[0]}:` : "";
  const ports = parts.slice(parts.length === 3 ? 1 : 0);
  const spans = ports.map((p) => {
    const m = range.exec(p);
    if (m) return [Number(m[1]), Number(m[2])] as const;
    return /^\d{1,5}$/.test(p) ? ([Number(p), Number(p)] as const) : undefined;
  });
  if (spans.some((sp) => sp === undefined || sp[0] > sp[1])) return undefined;
  const lengths = spans.map((sp) => sp![1] - sp![0]);
  if (new Set(lengths).size !== 1) return undefined;
  const out: PortMapping[] = [];
  for (let i = 0; i <= lengths[0]!; i++) {
    const mapping = parsePort(`${prefix}${spans.map((sp) => sp![0] + i).join(":")}${suffix}`);
    if (!mapping) return undefined;
    out.push(mapping);
  }
  return out;
}
