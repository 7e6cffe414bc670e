#!/usr/bin/env node
/**
 * `tickring <role>`: one command for every process role. Each role's options are flags and
 * environment variables, validated once; a bad value stops the process listing every problem.
 */
import { Command } from 'commander';
import {
  addOptions,
  ConfigError,
  resolveOptions,
  type OptionSpecs,
  type OptionValues,
} from './config/option-spec.js';
import { TickringError } from './errors.js';
import { registerAdminCommands } from './roles/admin.js';
import { registerScaleCommand } from './roles/scale.js';
import { runSim, SIM_OPTIONS } from './roles/sim.js';
import { relayCrossChecks, RELAY_OPTIONS, runRelay } from './roles/relay.js';
import { runStatus, STATUS_OPTIONS } from './roles/status.js';
import { runUp, UP_OPTIONS } from './roles/up.js';
import { runWorker } from './roles/worker.js';
import { WORKER_OPTIONS, workerCrossChecks } from './roles/worker-options.js';
import { VERSION } from './version.js';

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`tickring: ${err.message}\nSee --help for every option and its default.\n`);
    process.exit(2);
  }
  if (err instanceof TickringError) {
    process.stderr.write(`tickring: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`tickring: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

function role<S extends OptionSpecs>(
  program: Command,
  name: string,
  description: string,
  specs: S,
  run: (config: OptionValues<S>) => Promise<void>,
  crossChecks?: (config: OptionValues<S>) => string[],
): void {
  const command = program.command(name).description(description);
  addOptions(command, specs);
  command.action(async (_options: unknown, cmd: Command) => {
    try {
      const config = resolveOptions(specs, cmd.opts(), process.env, crossChecks);
      await run(config);
    } catch (err) {
      fail(err);
    }
  });
}

const program = new Command('tickring')
  .version(VERSION)
  .description(
    'Spread live market-data trade feeds over many worker processes with a consistent-hash ring in Redis.',
  )
  .showHelpAfterError();

role(program, 'up', 'run Redis (if needed), the simulator and N workers on this machine', UP_OPTIONS, runUp);
role(
  program,
  'worker',
  'join the ring, ingest owned symbols, serve the HTTP API',
  WORKER_OPTIONS,
  runWorker,
  workerCrossChecks,
);
role(
  program,
  'sim',
  'run the market-data simulator (a WebSocket server speaking a provider protocol)',
  SIM_OPTIONS,
  runSim,
);
role(
  program,
  'relay',
  'hold the one upstream connection a feed key allows and fan its trades out to the workers',
  RELAY_OPTIONS,
  runRelay,
  relayCrossChecks,
);
role(program, 'status', 'show the ring: epoch, members, leases, symbols owned', STATUS_OPTIONS, runStatus);
registerAdminCommands(program, fail);
registerScaleCommand(program, fail);

program.parseAsync(process.argv).catch(fail);
