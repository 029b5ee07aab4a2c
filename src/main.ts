import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { CliError, EXIT_RUNTIME, UsageError, unexpectedFailureLine } from './cli/errors.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import type { ConsoleLog } from './etl-thread.ts';
import type { Logger } from './observability/logger.ts';

const USAGE = `Usage: node src/main.ts <command>   (npm start | npm run api | etl | migrate | token)
  serve     API and ETL in one process, the ETL in a worker thread (default; the embedded all-in-one)
  api       the HTTP API only
  etl       the event log -> warehouse loader only
  migrate   apply warehouse schema migrations and exit
  token     print a development JWT: token --user user_123 [--admin] [--ttl 3600] (token --help)
Configuration comes from environment variables and .env (see .env.sample).
Exit codes: 0 done; 1 runtime failure (a port or the data directory in use, a backend unreachable);
2 usage or configuration error.`;

const COMMANDS = new Set(['serve', 'api', 'etl', 'migrate', 'token']);

/** `.env` in the working directory, if there is one; real environment variables win. */
function dotEnv(): Record<string, string> {
  try {
    return parseEnv(readFileSync('.env', 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

function config(): Config {
  try {
    return loadConfig({ ...dotEnv(), ...process.env });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

/** The logger of the running command, once there is one: a failure is logged there too (JSON only). */
let jsonLogger: Logger | undefined;

async function main(command: string, args: string[]): Promise<void> {
  if (command === 'help' || ((args.includes('--help') || args.includes('-h')) && command !== 'token')) {
    console.log(USAGE);
    return;
  }
  if (!COMMANDS.has(command)) throw new UsageError(`Unknown command "${command}".\n${USAGE}`);
  // Modules are imported when needed: `--help` and `token` answer at once instead of loading
  // the logger and every backend's client first.
  if (command === 'token') return (await import('./cli/token.ts')).tokenCommand(args, config);
  if (args.length > 0) throw new UsageError(`"${command}" takes no arguments (got ${args.join(' ')}); it is configured by environment variables.\n${USAGE}`);

  let cfg = config();
  const { createLogger, isPretty } = await import('./observability/logger.ts');
  const output: ConsoleLog = {
    pretty: isPretty(cfg.log.format, process.stdout.isTTY),
    colorize: process.stdout.isTTY && process.stdout.hasColors() && !process.env.NO_COLOR,
  };
  const logger = createLogger({ level: cfg.log.level, name: command, ...output });
  if (!output.pretty) jsonLogger = logger;
  const serverCommand = command as 'serve' | 'api' | 'etl' | 'migrate';
  const { needsDevSecret, prepareDataDir, usesDataDir } = await import('./cli/data-dir.ts');
  if (usesDataDir(cfg, serverCommand)) prepareDataDir(cfg.dataDir);
  const devSecret = needsDevSecret(cfg, serverCommand);
  if (devSecret) cfg = (await import('./dev-jwt-secret.ts')).withJwtSecret(cfg, logger);
  // The embedded chDB warehouse opens in one process; the lock says which one has it (see data-dir-lock.ts).
  if (cfg.warehouse.backend === 'chdb') (await import('./cli/data-dir-lock.ts')).lockDataDir(cfg.dataDir, command);
  const { runMigrate, runServer } = await import('./cli/run.ts');
  if (serverCommand === 'migrate') return runMigrate(cfg, logger);
  const tokenCommand = (await import('./cli/token.ts')).tokenHint(cfg, devSecret);
  return runServer(serverCommand, cfg, logger, output, tokenCommand);
}

const argv = process.argv.slice(2);
// No command, or options only: `serve`, as `npm start` runs it.
const command = argv[0] === undefined || argv[0].startsWith('-') ? 'serve' : argv[0];
const args = argv[0] === undefined || argv[0].startsWith('-') ? argv : argv.slice(1);

main(command, args).catch((err: unknown) => {
  // One line on stderr, never a stack: the JSON log (for files and log shippers) keeps the whole error.
  const line = err instanceof CliError ? err.message : unexpectedFailureLine(command, err);
  console.error(line);
  process.exitCode = err instanceof CliError ? err.exitCode : EXIT_RUNTIME;
  if (!jsonLogger) process.exit();
  jsonLogger.fatal(err instanceof CliError ? {} : { err }, line.split('\n')[0] ?? line);
  jsonLogger.flush(() => process.exit());
});
