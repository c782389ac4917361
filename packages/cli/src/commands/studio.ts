import { spawn } from "node:child_process";
import { once } from "node:events";
import { type Command, InvalidArgumentError, Option } from "commander";
import { interruptExitCode, interrupted } from "../interrupt.js";
import type { Io } from "../output/io.js";
import { formatPlan } from "../output/plan-text.js";
import { flags } from "./options.js";

interface StudioFlags {
  catalog?: string;
  cwd?: string;
  port: number;
  host: string;
  open?: boolean;
}

/** Open `url` in the desktop's browser; a failure only prints the address again. */
function openBrowser(url: string, io: Io): void {
  const [command, ...args] =
    process.platform === "darwin"
      ? ["open", url]
      : process.platform === "win32"
        ? ["cmd", "/c", "start", "", url]
        : ["xdg-open", url];
  try {
    const child = spawn(command!, args, { stdio: "ignore", detached: true });
    child.on("error", () => io.stderr.write(`kaupang studio: could not open a browser; open ${url}\n`));
    child.unref();
  } catch {
    io.stderr.write(`kaupang studio: could not open a browser; open ${url}\n`);
  }
}

export function registerStudio(program: Command, io: Io): void {
  const command = program
    .command("studio")
    .description(
      "the visual builder: draw an environment from catalog presets and export it (a local web page)",
    )
    .option(
      "--catalog <file|url|oci://ref>",
      "the palette's catalog (default: the project's catalog sources)",
    )
    .addOption(flags.cwd())
    .addOption(
      new Option("--port <n>", "port to listen on (0: any free port)").default(8080).argParser((value) => {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("use a port 0-65535.");
        return n;
      }),
    )
    .option("--host <address>", "address to bind (anything but loopback exposes the studio)", "127.0.0.1")
    .option("--open", "open the page in the default browser");
  command.action(async (options: StudioFlags) => {
    // Loaded here so that other commands never pay for the studio.
    const { startStudio } = await import("@kaupang/studio");
    const studio = await startStudio({
      cwd: options.cwd,
      catalog: options.catalog,
      port: options.port,
      host: options.host,
      formatPlan,
    });
    io.stdout.write(`kaupang studio on ${studio.url}\n`);
    for (const other of studio.urls.slice(1)) io.stdout.write(`               also ${other}\n`);
    if (!["127.0.0.1", "localhost", "::1"].includes(studio.host)) {
      io.stderr.write(
        `warning: listening on ${studio.host}: anyone who can reach it and has the token can write environment files\n`,
      );
    }
    io.stderr.write("Press Ctrl-C to stop.\n");
    if (options.open) openBrowser(studio.url, io);
    if (!interrupted.aborted) await once(interrupted, "abort");
    await studio.close();
    // Stopped by a signal, as documented: 130 for Ctrl-C, 143 for SIGTERM.
    io.exitCode = interruptExitCode();
  });
}
