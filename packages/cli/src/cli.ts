/**
 * The kaupang command line: argument parsing, output and exit codes only.
 * Every decision lives in @kaupang/core.
 * Exit codes: 0 ok · 1 failure or user error · 2 bad command-line usage · 3 drift (status) ·
 * 130 / 143 interrupted by SIGINT / SIGTERM.
 */

import { interruptedBy, setConfigLoadTimeout, signalExitCode } from "@kaupang/core";
import { Command, CommanderError, Option } from "commander";
import { registerBuild } from "./commands/build.js";
import { registerBundle } from "./commands/bundle.js";
import { registerDown } from "./commands/down.js";
import { registerInit } from "./commands/init.js";
import { registerInspect } from "./commands/inspect.js";
import { registerKeygen } from "./commands/keygen.js";
import { registerLedger } from "./commands/ledger.js";
import { registerRollback } from "./commands/rollback.js";
import { registerRun } from "./commands/run.js";
import { registerStudio } from "./commands/studio.js";
import { registerUnlock } from "./commands/unlock.js";
import { registerUp } from "./commands/up.js";
import { applyHelp } from "./help.js";
import { installSignalHandlers } from "./interrupt.js";
import { type Io, printError } from "./output/io.js";
import { version } from "./version.js";

export function buildProgram(io: Io): Command {
  const program = new Command("kaupang")
    .description("Deploy environments to Docker Compose, Docker Swarm or Kubernetes from one config.")
    .version(version, "-V, --version")
    .addOption(new Option("--debug", "print stack traces for unexpected errors"))
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();
  registerInit(program, io);
  registerUp(program, io);
  registerDown(program, io);
  registerBuild(program, io);
  registerBundle(program, io);
  registerKeygen(program, io);
  registerRollback(program, io);
  registerLedger(program, io);
  registerUnlock(program, io);
  registerInspect(program, io);
  registerRun(program, io);
  registerStudio(program, io);
  // --timeout also bounds loading the config: user code that never finishes is stopped.
  program.hook("preAction", (_program, action) => {
    setConfigLoadTimeout((action.opts() as { timeout?: number }).timeout);
  });
  applyHelp(program);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program).slice(1)) {
    command.exitOverride().configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
    command.showHelpAfterError("(run with --help for usage)");
  }
  return program;
}

export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const debug = argv.includes("--debug");
  const program = buildProgram(io);
  const removeHandlers = installSignalHandlers((text) => io.stderr.write(text));
  try {
    if (argv.filter((a) => a !== "--debug").length === 0) {
      // `kaupang` alone: the help, on stdout like --help (it is what was asked for, not an error).
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv, { from: "user" });
    return io.exitCode ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit "successfully"; everything else is bad usage.
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      ) {
        return 0;
      }
      return 2;
    }
    const code = printError(io, error, debug);
    // Interrupted: whatever the command failed with, the exit code is the signal's (130, 143).
    const signal = interruptedBy();
    return signal ? signalExitCode(signal) : code;
  } finally {
    removeHandlers();
  }
}
