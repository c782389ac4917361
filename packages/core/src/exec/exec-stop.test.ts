// Its own file: stopping is process-wide (no command may start afterwards).
import { describe, expect, it } from "vitest";
import { exec, stopAllChildren } from "./exec.js";

describe("stopAllChildren", () => {
  it("stops running commands and their process groups, then refuses new ones", async () => {
    const began = Date.now();
    // A shell whose child would outlive it if only the shell were signalled.
    const group = exec(["sh", "-c", "sleep 30 & wait"], { detached: true });
    const single = exec(["sleep", "30"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stopAllChildren(2000);
    const [a, b] = await Promise.all([group, single]);
    expect(a.signal).toBe("SIGTERM");
    expect(b.signal).toBe("SIGTERM");
    expect(Date.now() - began).toBeLessThan(5000);
    await expect(exec(["true"])).rejects.toMatchObject({ code: "ERR_INTERRUPTED" });
  });
});
