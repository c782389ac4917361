import { afterEach, describe, expect, it } from "vitest";
import { addSecretValues, clearSecretValues, redact } from "./redact.js";

afterEach(clearSecretValues);

describe("redact", () => {
  it("masks every registered value, longest first, and each line of a multi-line one", () => {
    addSecretValues(["s3cr3t", "s3cr3t-longer", "-----BEGIN KEY-----\nAAAABBBB\n-----END KEY-----"]);
    expect(redact("a=s3cr3t b=s3cr3t-longer")).toBe("a=*** b=***");
    expect(redact("line: AAAABBBB")).toBe("line: ***");
    expect(redact("nothing here")).toBe("nothing here");
  });

  it("masks a value's base64 form (how kubectl prints a Secret)", () => {
    addSecretValues(["hunter2-token"]);
    expect(redact(`data: ${Buffer.from("hunter2-token").toString("base64")}`)).toBe("data: ***");
  });

  it("escapes values that look like regular expressions, and skips values too short to mask", () => {
    addSecretValues(["a.b*c(d)", "xy"]);
    expect(redact("got a.b*c(d) and axbbbcd, xy")).toBe("got *** and axbbbcd, xy");
  });
});
