// Reads a V8 .cpuprofile and summarizes it: self time per function, inclusive time of the package's own functions,
// and self time per area (the package's files, Node streams, Node http, GC...).
import { readFileSync } from 'node:fs';

const ROOT = new URL('../../', import.meta.url).href;

function shortUrl(url) {
  if (url === '') return '';
  return url.startsWith(ROOT) ? url.slice(ROOT.length) : url.replace(/^file:\/\//, '');
}

/** Which part of the stack a frame belongs to: a file of the package (as its src/ path), a library, or Node. */
function areaOf(functionName, url) {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const path = shortUrl(url);
  if (path.startsWith('dist/')) return path.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (module !== null) return module[1];
  if (path.startsWith('node:internal/streams/')) return 'node: streams';
  if (/^node:(_http|internal\/http|http)/.test(path)) return 'node: http';
  if (/^node:(net|internal\/stream_base|internal\/net)/.test(path)) return 'node: net';
  if (path.startsWith('node:')) return `node: ${path.slice(5).replace(/^internal\//, '')}`;
  if (path.startsWith('bench/')) return 'bench harness';
  return path;
}

export function summarizeProfile(file, { top = 25 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = new Map();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const where = url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`;
    keyOf.set(node.id, {
      key: `${name} ${where}`.trim(),
      area: areaOf(name, url),
      own: shortUrl(url).startsWith('dist/'),
    });
  }

  const self = new Map();
  const inclusive = new Map();
  const areas = new Map();
  let total = 0;
  let idle = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const us = timeDeltas[i + 1] ?? timeDeltas[i] ?? 0;
    const id = samples[i];
    const info = keyOf.get(id);
    if (info.key.startsWith('(idle)')) {
      idle += us;
      continue;
    }
    total += us;
    self.set(info.key, (self.get(info.key) ?? 0) + us);
    areas.set(info.area, (areas.get(info.area) ?? 0) + us);
    const seen = new Set();
    for (let node = id; node !== undefined; node = parent.get(node)) {
      const frame = keyOf.get(node);
      if (!frame.own || seen.has(frame.key)) continue;
      seen.add(frame.key);
      inclusive.set(frame.key, (inclusive.get(frame.key) ?? 0) + us);
    }
  }
  const rank = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ key, ms: us / 1000, share: us / total }));
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    self: rank(self),
    ownInclusive: rank(inclusive),
    areas: rank(areas),
  };
}

export function renderProfile(name, summary) {
  const pct = (share) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `${name}: ${summary.totalMs.toFixed(0)} ms on CPU (${summary.idleMs.toFixed(0)} ms idle)`,
    '  self time by area:',
  ];
  for (const row of summary.areas.slice(0, 14))
    lines.push(`    ${pct(row.share)} ${row.ms.toFixed(0).padStart(6)} ms  ${row.key}`);
  lines.push('  top functions by self time:');
  for (const row of summary.self) lines.push(`    ${pct(row.share)} ${row.ms.toFixed(0).padStart(6)} ms  ${row.key}`);
  if (summary.ownInclusive.length > 0) {
    lines.push('  koa-sse-tasks functions by inclusive time (self + what they call):');
    for (const row of summary.ownInclusive.slice(0, 15))
      lines.push(`    ${pct(row.share)} ${row.ms.toFixed(0).padStart(6)} ms  ${row.key}`);
  }
  return lines.join('\n');
}
