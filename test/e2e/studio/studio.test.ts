/**
 * kaupang studio in a real headless Chromium (Debian's chromium, driven by
 * playwright-core; no browser download): draw the flagship's presets and a
 * custom service, connect them, export TypeScript and check that
 * `kaupang up --dry-run` plans exactly the drawn waves; a drawn cycle is an
 * error that blocks export; undo, redo and Delete work from the keyboard; a
 * catalog that cannot be loaded says so. Needs `npm run build` first.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const bin = join(repo, "packages/cli/bin/kaupang.mjs");
// Screenshots of the main states; `KAUPANG_STUDIO_SCREENSHOTS=docs/images` refreshes the documented ones.
const images = process.env.KAUPANG_STUDIO_SCREENSHOTS
  ? join(repo, process.env.KAUPANG_STUDIO_SCREENSHOTS)
  : join(tmpdir(), "kaupang-studio-screenshots");
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const children: ChildProcess[] = [];
const dirs: string[] = [];
let browser: Browser;

/** `kaupang studio` from the built CLI, run in `cwd`, on a free port; resolves with the address it printed. */
async function studio(cwd: string, catalog: string): Promise<string> {
  const child = spawn(process.execPath, [bin, "studio", "--cwd", ".", "--catalog", catalog, "--port", "0"], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`studio did not start: ${output}`)), 20_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /kaupang studio on (http:\/\/\S+)/.exec(output);
      if (url) {
        clearTimeout(timer);
        resolve(url[1]!);
      }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.on("exit", (code) => reject(new Error(`studio exited ${code}: ${output}`)));
  });
}

function flagship(): string {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-studio-e2e-"));
  dirs.push(dir);
  cpSync(join(repo, "examples/longhall"), dir, {
    recursive: true,
    filter: (src) => !src.includes(".kaupang"),
  });
  return dir;
}

const status = (page: Page) => page.getByTestId("plan-status").textContent();

async function waitValid(page: Page) {
  await expect.poll(() => status(page), { timeout: 15_000 }).toMatch(/^valid for local/);
}

async function drop(page: Page, item: string, x: number, y: number) {
  await page.getByTestId(item).dragTo(page.getByTestId("canvas"), { targetPosition: { x, y } });
}

/** Draw an edge from `from`'s right handle to `to`'s left handle: `to` then depends on `from`. */
async function connect(page: Page, from: string, to: string) {
  const a = (await page.locator(`[data-testid="node-${from}"] .react-flow__handle.source`).boundingBox())!;
  const b = (await page.locator(`[data-testid="node-${to}"] .react-flow__handle.target`).boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

async function download(page: Page): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export").click()]);
  return readFileSync((await file.path())!, "utf8");
}

function dryRun(cwd: string, env: string) {
  const r = spawnSync(process.execPath, [bin, "up", env, "--dry-run", "--output", "json", "--cwd", cwd], {
    encoding: "utf8",
    env: { ...process.env, HALL_KEY: "set-for-the-dry-run" },
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as {
    environmentOrder: string[];
    environments: { environment: string; waves: string[][]; secrets: string[] }[];
  };
}

beforeAll(async () => {
  mkdirSync(images, { recursive: true });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: chromiumArgs,
  });
});

afterAll(async () => {
  console.log(`[studio] screenshots in ${images}`);
  await browser?.close();
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill("SIGINT");
      await new Promise((r) => child.once("exit", r));
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("kaupang studio in Chromium", () => {
  it("draws presets and a custom service, exports TypeScript that plans into the drawn waves", async () => {
    const cwd = flagship();
    const url = await studio(cwd, "./catalog.json");
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await expect.poll(() => page.getByTestId("preset-runes-cache").count()).toBe(1);

    // The palette searches by name or image.
    await page.getByTestId("palette-search").fill("saga");
    expect(await page.getByTestId("preset-runes-cache").count()).toBe(0);
    await page.getByTestId("palette-search").fill("");

    // The environment: its name and its dependency on another environment of the project.
    await page.getByTestId("environment-name").fill("hall");
    await page.getByTestId("environment-name").press("Enter");
    await page.getByTestId("env-dep-saga").check();

    // Two presets and one custom service, dragged onto the canvas.
    await drop(page, "preset-runes-cache", 130, 170);
    await drop(page, "preset-saga-store", 370, 70);
    await drop(page, "palette-custom", 600, 210);
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(3);

    // The custom service is selected: a missing image is the core's error on that node.
    await expect
      .poll(() => page.getByTestId("node-problem-service").textContent())
      .toContain("needs an image");
    await page.getByTestId("service-image").fill("nginx:1.27");
    await page.getByTestId("service-name").fill("gate");
    await page.getByTestId("service-name").press("Enter");
    await page.getByRole("button", { name: "+ port" }).click();
    await page.getByLabel("port 1").fill("8088:80");
    await page.getByRole("button", { name: "+ secret" }).click();
    await page.getByTestId("service-env-0").getByLabel("variable name").fill("HALL_KEY");
    await page.getByTestId("service-env-0").getByLabel("host variable holding the secret").fill("HALL_KEY");

    // runes-cache → saga-store → gate.
    await connect(page, "runes-cache", "saga-store");
    await connect(page, "saga-store", "gate");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(2);
    await waitValid(page);
    await expect.poll(() => page.getByTestId("dry-run").textContent()).toContain("wave 3: gate");
    await page.screenshot({ path: join(images, "studio-drawing.png") });
    await page.getByTestId("tab-artifact").click();
    await expect.poll(() => page.getByTestId("artifact").textContent()).toContain('HALL_KEY: "${HALL_KEY}"');
    await page.screenshot({ path: join(images, "studio-compose-preview.png") });

    // Export (download) and save give the same bytes; the CLI plans exactly the drawn graph.
    const exported = await download(page);
    expect(exported).toContain('import { defineEnvironment, secret, use } from "@kaupang/core";');
    expect(exported).toContain('HALL_KEY: secret("HALL_KEY")');
    await page.getByTestId("save").click();
    await expect.poll(() => page.getByTestId("notice").textContent()).toContain("Saved environments/hall.ts");
    const file = readFileSync(join(cwd, "environments/hall.ts"), "utf8");
    expect(file).toBe(exported);
    const plan = dryRun(cwd, "hall");
    expect(plan.environmentOrder).toEqual(["saga", "hall"]);
    const hall = plan.environments.find((e) => e.environment === "hall")!;
    expect(hall.waves).toEqual([["runes-cache"], ["saga-store"], ["gate"]]);
    expect(hall.secrets).toEqual(["HALL_KEY"]);

    // Saving again asks before it overwrites.
    await page.getByTestId("save").click();
    await expect
      .poll(() => page.getByRole("dialog").textContent())
      .toContain("environments/hall.ts already exists");
    await page.getByTestId("confirm-no").click();

    // A cycle: gate → runes-cache. Shown as an error, export blocked, in the page and by the server.
    await page.getByTestId("tab-dry-run").click();
    await connect(page, "gate", "runes-cache");
    await expect
      .poll(
        () =>
          page
            .getByTestId("cycle")
            .textContent({ timeout: 1000 })
            .catch(() => ""),
        { timeout: 15_000 },
      )
      .toContain("Service dependency cycle");
    expect(await page.getByTestId("export").isDisabled()).toBe(true);
    expect(await page.getByTestId("save").isDisabled()).toBe(true);
    expect(await page.locator(".edge-cycle").count()).toBe(3);
    await page.screenshot({ path: join(images, "studio-cycle.png") });
    const token = new URL(url).searchParams.get("token")!;
    const refused = await page.evaluate(
      async ({ token }) => {
        const environment = {
          services: { a: { image: "x", dependsOn: ["b"] }, b: { image: "x", dependsOn: ["a"] } },
        };
        const r = await fetch(`/api/export?token=${token}`, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name: "loop", environment, format: "ts" }),
        });
        return (await r.json()) as { ok: boolean };
      },
      { token },
    );
    expect(refused.ok).toBe(false);

    // Keyboard: undo removes the cycle edge, redo brings it back, Delete removes the selected edge.
    await page.locator(".react-flow__pane").click({ position: { x: 400, y: 450 } });
    await page.keyboard.press("Control+z");
    await waitValid(page);
    expect(await page.locator(".react-flow__edge").count()).toBe(2);
    await page.keyboard.press("Control+Shift+z");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(3);
    await expect.poll(() => page.getByTestId("cycle").count(), { timeout: 15_000 }).toBe(1);
    await page.locator('[data-testid="rf__edge-gate->runes-cache"]').click({ force: true });
    await page.keyboard.press("Delete");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(2);
    await waitValid(page);
    // Delete removes a selected node too (and undo restores it with its edges).
    await page.getByTestId("node-gate").click();
    await page.keyboard.press("Delete");
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(2);
    await page.keyboard.press("Control+z");
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(3);
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(2);
    expect(errors).toEqual([]);
    await page.close();

    // Import: a fresh page opens the saved file, lays it out, and exports it byte for byte.
    const again = await browser.newPage({ viewport: { width: 1400, height: 860 }, acceptDownloads: true });
    await again.goto(url);
    await expect.poll(() => again.getByTestId("import").locator("option").count()).toBe(5);
    await again.getByTestId("import").selectOption("hall");
    await expect.poll(() => again.locator(".react-flow__node").count()).toBe(3);
    await expect.poll(() => again.getByTestId("notice").textContent()).toBe("Opened environments/hall.ts×"); // × dismisses
    await waitValid(again);
    await again.getByTestId("node-gate").click();
    await again.screenshot({ path: join(images, "studio-imported.png") });
    expect(await download(again)).toBe(file);
    await again.close();
  });

  it("refuses to start on a catalog that cannot be loaded, naming the file, and refuses a page without its token", async () => {
    const cwd = flagship();
    await expect(studio(cwd, "./no-such-catalog.json")).rejects.toThrow(
      /studio exited 1: error: --catalog \.\/no-such-catalog\.json: catalog file \.\/no-such-catalog\.json does not exist/,
    );
    const url = await studio(cwd, "./catalog.json");
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    await page.goto(url.replace(/\?token=.*/, ""));
    await expect.poll(() => page.getByTestId("fatal").textContent()).toContain("missing or wrong token");
    await page.close();
  });
});
