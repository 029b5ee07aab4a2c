import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';
import type { Logger } from './observability/logger.ts';

/**
 * HS256 without a configured secret: a random development secret kept in the data directory,
 * so `npm start` and `npm run token` agree without anyone choosing a password. Production sets
 * AUTH_JWT_SECRET (or a public key).
 */
export function withJwtSecret(config: Config, logger?: Logger): Config {
  if (config.auth.algorithm !== 'HS256' || config.auth.secret !== undefined) return config;
  const file = join(config.dataDir, 'dev-jwt-secret');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    secret = randomBytes(48).toString('base64url');
    try {
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      logger?.warn({ file }, 'AUTH_JWT_SECRET is not set: generated a development secret');
    } catch {
      // Another process (the etl beside the api) created it first.
      secret = readFileSync(file, 'utf8').trim();
    }
  }
  return { ...config, auth: { ...config.auth, secret } };
}
