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

export function isPortMapping(value: string | number): boolean {
  return parsePort(value) !== undefined;
}
