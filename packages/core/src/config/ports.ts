/** A parsed port mapping; `published` is absent for container-only ports. */
export interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
  protocol: "tcp" | "udp";
}

const portNumber = /^\d{1,5}$/;
const inRange = (n: number) => n >= 1 && n <= 65535;

/** Parse "8080:3000", "3000", "127.0.0.1:8080:3000/udp" or a number; undefined when malformed. */
export function parsePort(value: string | number): PortMapping | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && inRange(value) ? { target: value, protocol: "tcp" } : undefined;
  }
  let text = value.trim();
  let protocol: "tcp" | "udp" = "tcp";
  const slash = text.lastIndexOf("/");
  if (slash !== -1) {
    const proto = text.slice(slash + 1);
    if (proto !== "tcp" && proto !== "udp") return undefined;
    protocol = proto;
    text = text.slice(0, slash);
  }
  const parts = text.split(":");
  if (parts.length > 3 || parts.some((p, i) => (i === 0 && parts.length === 3 ? !p : !portNumber.test(p)))) {
    return undefined;
  }
  const numbers = parts.slice(parts.length === 3 ? 1 : 0).map(Number);
  if (!numbers.every(inRange)) return undefined;
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
    return portNumber.test(p) ? ([Number(p), Number(p)] as const) : undefined;
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

export function isPortMapping(value: string | number): boolean {
  return parsePorts(value) !== undefined;
}
