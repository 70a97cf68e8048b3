// Reads a V8 .heapsnapshot and sums the self size and count of its objects by kind (constructor or closure name).
import { readFileSync } from 'node:fs';

export function heapByKind(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const { node_fields: fields, node_types: types } = snapshot.snapshot.meta;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const typeNames = types[typeAt];
  const { nodes, strings } = snapshot;
  const kinds = new Map();
  for (let i = 0; i < nodes.length; i += stride) {
    const type = typeNames[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]];
    const key =
      type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${name}` : `(${type})`;
    const kind = kinds.get(key) ?? { count: 0, bytes: 0 };
    kind.count++;
    kind.bytes += nodes[i + sizeAt];
    kinds.set(key, kind);
  }
  return kinds;
}

/** What `streams` more streams added, per stream, largest first. */
export function perStreamGrowth(before, after, streams, top = 25) {
  const rows = [];
  for (const [key, { count, bytes }] of after) {
    const was = before.get(key) ?? { count: 0, bytes: 0 };
    const added = bytes - was.bytes;
    if (added > 0) rows.push({ key, bytesPerStream: added / streams, countPerStream: (count - was.count) / streams });
  }
  rows.sort((a, b) => b.bytesPerStream - a.bytesPerStream);
  const total = rows.reduce((sum, row) => sum + row.bytesPerStream, 0);
  return { total, rows: rows.slice(0, top) };
}

/** V8's own bookkeeping (compiled code, maps, hidden internals): it moves with JIT activity, not with leaks. */
const INTERNAL = new Set(['(code)', '(hidden)', '(synthetic)', '(object shape)']);

/** How many objects the program holds, and their bytes, V8's internals left out: a leak shows as steady growth. */
export function liveObjects(kinds) {
  let count = 0;
  let bytes = 0;
  for (const [key, kind] of kinds) {
    if (INTERNAL.has(key)) continue;
    count += kind.count;
    bytes += kind.bytes;
  }
  return { count, bytes };
}
