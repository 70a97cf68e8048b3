// The limit on this machine: node:http, the responses of each channel held in an array, one pre-serialized
// Buffer per event written to each. Streams: GET /channels/<n>.
import { createServer } from 'node:http';

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};
const RETRY = Buffer.from('retry: 3000\n\n');
const PATH = /^\/channels\/(\d+)$/;

export async function createTarget() {
  /** @type {import('node:http').ServerResponse[][]} */
  let channels = [];

  const server = createServer((req, res) => {
    const match = PATH.exec(req.url ?? '');
    const list = match === null ? undefined : channels[Number(match[1])];
    if (list === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, HEADERS);
    res.write(RETRY);
    res.slot = list.length;
    list.push(res);
    res.once('close', () => {
      if (list[res.slot] !== res) return; // already dropped by finish()
      const last = list.pop();
      if (last !== res) {
        list[res.slot] = last;
        last.slot = res.slot;
      }
    });
  });

  return {
    server,
    async prepare({ channels: count }) {
      channels = Array.from({ length: count }, () => []);
      return { paths: channels.map((_, n) => `/channels/${n}`) };
    },
    publish(channel, seq, percent, pad = '') {
      const frame = Buffer.from(
        `event: progress\nid: ${seq}\ndata: {"percent":${percent},"message":"${seq}:${process.hrtime.bigint()}${pad}"}\n\n`,
      );
      for (const res of channels[channel]) res.write(frame);
    },
    async finish() {
      const open = channels.flat();
      channels = [];
      for (const res of open) res.end();
    },
    async counts() {
      let streams = 0;
      for (const list of channels) streams += list.length;
      return { streams };
    },
  };
}
