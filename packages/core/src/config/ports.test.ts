import { describe, expect, it } from "vitest";
import { formatDockerDuration, isDuration, parseDuration } from "../base/duration.js";
import { parsePort } from "./ports.js";

describe("parsePort", () => {
  it.each([
    ["8080:3000", { published: 8080, target: 3000, protocol: "tcp" }],
    ["3000", { target: 3000, protocol: "tcp" }],
    [3000, { target: 3000, protocol: "tcp" }],
    ["127.0.0.1:8080:3000", { hostIp: "127.0.0.1", published: 8080, target: 3000, protocol: "tcp" }],
    ["53:53/udp", { published: 53, target: 53, protocol: "udp" }],
  ])("%s", (input, expected) => {
    expect(parsePort(input)).toEqual(expected);
  });

  it.each(["80:abc", "", "0", "70000", "1:2:3:4", "80/sctp", ":80", 3.5, "80:"])("rejects %s", (input) => {
    expect(parsePort(input as string)).toBeUndefined();
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1.5s", 1500],
  ])("%s", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["2", "2 s", "2sec", "-1s", "1d", ""])("rejects %s", (text) => {
    expect(isDuration(text)).toBe(false);
  });

  it("formats docker durations", () => {
    expect(formatDockerDuration(2000)).toBe("2s");
    expect(formatDockerDuration(90_000)).toBe("1m30s");
    expect(formatDockerDuration(500)).toBe("500ms");
    expect(formatDockerDuration(3_600_000)).toBe("1h");
  });
});
