import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { toYaml, toYamlStream } from "./yaml.js";

const tricky = [
  "no",
  "No",
  "NO",
  "yes",
  "y",
  "n",
  "on",
  "off",
  "true",
  "False",
  "null",
  "~",
  "",
  " ",
  "a ",
  " a",
  "0755",
  "0x1F",
  "1e3",
  "1_000",
  "22:22",
  "8080:3000",
  "127.0.0.1:8080:3000",
  "3.14",
  ".5",
  "-1",
  "+1",
  ".inf",
  ".nan",
  "2026-11-22",
  "2026-11-22T10:00:00Z",
  "a: b",
  "a #b",
  "#x",
  "- x",
  "? x",
  "x:",
  "*ref",
  "&anchor",
  "!tag",
  "|",
  ">",
  "'q'",
  '"q"',
  "%x",
  "@x",
  "`x`",
  "{a}",
  "[a]",
  "a,b",
  "pa$$word ${NOT_A_VAR}",
  "line\nbreak",
  "tab\there",
  "ünïcode",
  "http://store:8080/",
  "127.0.0.1:5000/x@sha256:" + "a".repeat(64),
  "serve --port 3000",
  "/bin/sh",
  "-c",
  "=",
  "<<",
  "\u0000ctrl",
  "\u2028sep",
  "emoji 🛶",
];

describe("toYaml", () => {
  const doc = {
    strings: tricky,
    keys: Object.fromEntries(tricky.filter((t) => t !== "").map((t) => [t, t])),
    numbers: [0, 1, -1, 3.5, 1e21, 65535],
    bools: [true, false],
    nothing: null,
    empty: { list: [], map: {} },
    nested: [{ a: 1, b: [{ c: "no" }, [1, [2]]] }, [], {}, [["x"]]],
  };

  it("round-trips through YAML 1.2 and YAML 1.1 readers", () => {
    const text = toYaml(doc);
    expect(parse(text)).toEqual(doc);
    expect(parse(text, { version: "1.1" })).toEqual(doc);
  });

  it("round-trips each tricky string alone under both versions", () => {
    for (const value of tricky) {
      const text = toYaml({ v: value });
      expect(parse(text, { version: "1.1" }), text).toEqual({ v: value });
      expect(parse(text), text).toEqual({ v: value });
    }
  });

  it("writes block style with sequences indented under their key", () => {
    expect(toYaml({ a: { b: ["x", { c: 1, d: 2 }] }, e: "no" })).toBe(
      ["a:", "  b:", "    - x", "    - c: 1", "      d: 2", 'e: "no"', ""].join("\n"),
    );
  });

  it("skips undefined keys like JSON does", () => {
    expect(toYaml({ a: undefined, b: 1 })).toBe("b: 1\n");
  });

  it("writes multi-document streams", () => {
    const text = toYamlStream([{ a: 1 }, { b: 2 }]);
    expect(parseAllDocuments(text).map((d) => d.toJS())).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
