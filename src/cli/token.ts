import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintToken, subjectOf } from '../api/auth.ts';
import { withJwtSecret } from '../dev-jwt-secret.ts';
import { type Config, VARIABLES } from '../config.ts';
import { needsDevSecret, prepareDataDir } from './data-dir.ts';
import { UsageError } from './errors.ts';

export const TOKEN_USAGE = `Usage: npm run token -- --user <id> [--admin] [--ttl <seconds>]
  --user   the user id the token is for (sub claim): 1..64 characters, not blank, none invisible
  --admin  adds the admin role (the analytics routes need it)
  --ttl    lifetime in seconds, a positive integer (default 3600)
Prints a development JWT (HS256, signed with AUTH_JWT_SECRET or the secret generated in DATA_DIR).`;

export interface TokenArgs {
  user: string;
  admin: boolean;
  ttlSeconds: number;
}

const badTtl = (ttl: string): UsageError => new UsageError(`--ttl must be a positive whole number of seconds, not "${ttl}".\n${TOKEN_USAGE}`);
const usage = (reason: string): UsageError => new UsageError(`${reason}\n${TOKEN_USAGE}`);
const OPTION = /^--(user|admin|ttl|help)(?:=(.*))?$/s;

/**
 * Parses `token`'s arguments; `help` when `--help`/`-h` is among them. Anything else that is not
 * exactly the usage is a UsageError whose message says what is wrong and ends with the usage: a
 * missing value, an option given twice, an unknown option, a positional argument, a ttl that is
 * not a positive integer, or a user id the service would refuse (its own rule, `subjectOf`).
 * Values go after a space or an `=`; a value that starts with `--` is taken for a forgotten one.
 */
export function parseTokenArgs(args: string[]): TokenArgs | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const match = OPTION.exec(arg);
    if (!match) throw usage(arg.startsWith('-') ? `Unknown option '${arg}'.` : `Unexpected argument '${arg}'.`);
    const [, name = '', inline] = match;
    if (values.has(name)) throw usage(`--${name} given twice.`);
    if (name === 'admin') {
      if (inline !== undefined) throw usage('--admin takes no value.');
      values.set(name, '');
      continue;
    }
    const value = inline ?? args[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw usage(`--${name} needs a value, e.g. ${name === 'user' ? '--user user_123' : '--ttl 3600'}.`);
    }
    if (inline === undefined) i++;
    values.set(name, value);
  }
  const user = values.get('user');
  if (user === undefined) throw usage('--user is required, e.g. --user user_123.');
  try {
    subjectOf(user);
  } catch (err) {
    // The service's own words ("The token subject must ..."), said of the option.
    throw usage((err as Error).message.replace(/^The token subject /, '--user '));
  }
  const ttl = values.get('ttl') ?? '3600';
  // Digits only: Number() would take "1e3", " 5" or "0x10".
  if (!/^\d{1,9}$/.test(ttl) || Number(ttl) <= 0) throw badTtl(ttl);
  return { user, admin: values.has('admin'), ttlSeconds: Number(ttl) };
}

/**
 * `token`: prints the usage or a token on stdout; throws UsageError on bad arguments or a
 * non-HS256 setup. The arguments are checked before the configuration is read, so `--help`
 * works whatever the environment holds.
 */
export async function tokenCommand(args: string[], loadConfig: () => Config): Promise<void> {
  const parsed = parseTokenArgs(args);
  if (parsed === 'help') {
    console.log(TOKEN_USAGE);
    return;
  }
  const config = loadConfig();
  if (needsDevSecret(config, 'token')) prepareDataDir(config.dataDir);
  const { auth } = withJwtSecret(config);
  if (auth.algorithm !== 'HS256' || auth.secret === undefined) {
    throw new UsageError(`token mints HS256 development tokens only, and AUTH_JWT_ALGORITHM is ${auth.algorithm}: get tokens from the identity provider that holds the private key.`);
  }
  console.log(
    await mintToken({ secret: auth.secret, userId: parsed.user, admin: parsed.admin, ttlSeconds: parsed.ttlSeconds, issuer: auth.issuer, audience: auth.audience }),
  );
}

/** Where `npm run token` looks for the development secret by default: DATA_DIR's default, in the package, where npm runs scripts. */
const DEFAULT_DATA_DIR = resolve(fileURLToPath(new URL('../..', import.meta.url)), VARIABLES.DATA_DIR.default);

/**
 * The `npm run token` command line, for the start-up line, that mints a token this service
 * accepts; undefined when this service cannot mint them (RS256/ES256: the identity provider does).
 * With the generated development secret (`devSecret`), `npm run token` must find the same
 * DATA_DIR, so a directory other than the default is put in front of the command.
 */
export function tokenHint(config: Config, devSecret: boolean): string | undefined {
  if (config.auth.algorithm !== 'HS256') return undefined;
  const command = 'npm run token -- --user user_123';
  return devSecret && config.dataDir !== DEFAULT_DATA_DIR ? `DATA_DIR=${shellWord(config.dataDir)} ${command}` : command;
}

/** `text` as one POSIX shell word: as it is when that is safe, else single-quoted. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
