import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  dir: string;
  /** Removes the directory and everything in it; safe to call twice. */
  cleanup: () => Promise<void>;
}

/** A fresh directory under the OS temp dir, so parallel test files never share files. */
export async function makeTempDir(prefix = 'ugc-test-'): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
