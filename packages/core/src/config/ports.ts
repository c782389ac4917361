/** A parsed port mapping; `published` is absent for container-only ports. */
export interface PortMapping {
  hostIp?: string;
  published?: number;
  target: number;
  protocol: "tcp" | "udp";
}

const inRange = (n: number) => n >= 1 && n <= 65535;

const shapes = '"host:container", "container" or "ip:host:container"';

/** Why `value` is not a port mapping, or undefined when it is one. */
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
  for (const p of ports) {
    if (/^\d+-\d+$/.test(p)) return `${p} is a port range; list each port as a mapping of its own`;
    if (!/^\d+$/.test(p)) return `${JSON.stringify(p)} is not a port number (${shapes})`;
    if (!inRange(Number(p))) return `${p} is out of range (ports are 1-65535)`;
  }
  return undefined;
}

/** Parse "8080:3000", "3000", "127.0.0.1:8080:3000/udp" or a number; undefined when malformed. */
export function parsePort(value: string | number): PortMapping | undefined {
  if (portProblem(value) !== undefined) return undefined;
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
