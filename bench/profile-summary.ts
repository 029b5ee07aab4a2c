import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { formatTable, percent } from './lib/report.ts';

/**
 * `node bench/profile-summary.ts FILE.cpuprofile [--top N]`: where a V8 CPU profile (from
 * `--cpu-prof`, e.g. `node bench/run.ts ingest --profile`) spent its time — self time by
 * module, and self and total (inclusive) time by function — so a claim about "what dominates"
 * can be checked without opening DevTools.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = new URL('..', import.meta.url).pathname;

/** A module: the npm package, the repository file, or V8's own buckets (GC, idle, program). */
function moduleOf(url: string, functionName: string): string {
  if (url === '') return `(${functionName.replace(/[()]/g, '') || 'native'})`;
  if (url.startsWith('node:')) return url;
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [scope = '', name = ''] = path.slice(nm + '/node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  return relative(ROOT, path);
}

function frameOf(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${moduleOf(url, functionName)}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
  if (!file) {
    console.error('Usage: node bench/profile-summary.ts FILE.cpuprofile [--top N]');
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfByModule = new Map<string, number>();
  const selfByFrame = new Map<string, number>();
  const totalByFrame = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    total += us;
    if (node.callFrame.functionName === '(idle)') idle += us;
    const mod = moduleOf(node.callFrame.url, node.callFrame.functionName);
    selfByModule.set(mod, (selfByModule.get(mod) ?? 0) + us);
    selfByFrame.set(frameOf(node), (selfByFrame.get(frameOf(node)) ?? 0) + us);
    // Inclusive time: each frame once per sample, however deep a recursion repeats it.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n) seen.add(frameOf(n));
    }
    for (const f of seen) totalByFrame.set(f, (totalByFrame.get(f) ?? 0) + us);
  });
  const busy = total - idle;
  console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s not idle; shares below are of the non-idle time\n`);
  const rows = (map: Map<string, number>, key: string) =>
    [...map.entries()]
      .filter(([name]) => name !== '(idle)' && name !== '(idle) ')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ [key]: name, ms: us / 1000, share: percent(us / busy) }));
  console.log(`${formatTable({ title: 'self time by module', columns: ['module', 'ms', 'share'], rows: rows(selfByModule, 'module') })}\n`);
  console.log(`${formatTable({ title: 'self time by function', columns: ['function', 'ms', 'share'], rows: rows(selfByFrame, 'function') })}\n`);
  console.log(formatTable({ title: 'total (inclusive) time by function', columns: ['function', 'ms', 'share'], rows: rows(totalByFrame, 'function') }));
}

await main();
