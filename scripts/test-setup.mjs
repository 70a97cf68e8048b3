// `npm test` runs this before the build: it makes sure the programs and services the tests use are there (the
// tests never skip for a missing one: they fail). A service that is installed but not running is started. What is
// missing is installed with apt-get when this runs as root on Debian and apt can reach its repositories; otherwise
// it stops at once, one line per missing piece saying how to install it, and `npm test` goes no further.
// Every requirement is one row of REQUIREMENTS.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
// Debian's multiarch folder for this machine (MiniBrowser is not on the PATH).
const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? 'x86_64-linux-gnu';
const MINIBROWSER = process.env.MINIBROWSER_PATH ?? `/usr/lib/${MULTIARCH}/webkit2gtk-4.1/MiniBrowser`;
const REDIS = redisTarget(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const PG_URL = process.env.PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
// Debian keeps the server's programs off the PATH, under the version's folder.
const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';
const ROOT = process.getuid?.() === 0;
// As root, where CI has always kept it; otherwise somewhere this user may write (nothing is persisted anyway).
const REDIS_DIRS = ROOT ? ['/var/lib/redis', '/var/log/redis'] : [path.join(tmpdir(), 'koa-sse-tasks-redis')];

/**
 * What the tests need besides node_modules. `check` resolves to what it found (a path, a version) or to nothing,
 * `where` says where it looks; `debian` is the package (or packages) that provides it; `start`, for a service, the
 * shell command that starts it once installed; `hint` another way out, printed with the install command.
 */
const REQUIREMENTS = [
  {
    name: 'redis-server', // the Redis restart test runs one of its own
    where: 'on the PATH',
    check: () => version(onPath('redis-server'), '--version'),
    debian: 'redis-server',
  },
  {
    name: 'redis-cli', // the Redis Cluster tests create their cluster with `redis-cli --cluster create`
    where: 'on the PATH',
    check: () => version(onPath('redis-cli'), '--version'),
    debian: 'redis-tools',
  },
  REDIS.local
    ? {
        name: 'Redis at 127.0.0.1:6379',
        check: () => redisAnswers(REDIS),
        debian: 'redis-server',
        start:
          `mkdir -p ${REDIS_DIRS.join(' ')} && redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 ` +
          `--save "" --appendonly no --dir ${REDIS_DIRS[0]} --logfile ${REDIS_DIRS.at(-1)}/ci.log`,
      }
    : {
        name: `Redis at ${REDIS.host}:${REDIS.port} (REDIS_URL)`,
        check: () => redisAnswers(REDIS),
        hint: 'start it, or unset REDIS_URL to use a local one',
      },
  {
    name: 'chromium', // the browser tests
    where: CHROMIUM,
    check: () => version(executable(CHROMIUM), '--version'),
    debian: 'chromium',
    hint: 'or set CHROMIUM_PATH',
  },
  {
    name: 'firefox-esr', // the browser tests, over WebDriver BiDi (puppeteer-core)
    where: FIREFOX,
    check: () => version(executable(FIREFOX), '--version'),
    debian: 'firefox-esr',
    hint: 'or set FIREFOX_PATH',
  },
  {
    name: 'WebKitWebDriver', // the browser tests in WebKit (classic WebDriver)
    where: WEBKIT_DRIVER,
    check: () => executable(WEBKIT_DRIVER),
    debian: 'webkit2gtk-driver',
    hint: 'or set WEBKIT_DRIVER_PATH',
  },
  {
    name: 'MiniBrowser', // the WebKit that WebKitWebDriver drives (libwebkit2gtk-4.1-0, which webkit2gtk-driver brings)
    where: MINIBROWSER,
    check: () => executable(MINIBROWSER),
    debian: 'webkit2gtk-driver',
    hint: 'or set MINIBROWSER_PATH',
  },
  {
    name: 'Xvfb', // MiniBrowser has no headless mode: each WebKit launch starts an Xvfb display of its own
    where: '/usr/bin/Xvfb',
    check: () => executable('/usr/bin/Xvfb'),
    debian: 'xvfb',
  },
  {
    name: 'nginx', // the proxy test runs its own, with a configuration in a temporary directory
    where: '/usr/sbin/nginx',
    check: () => version(executable('/usr/sbin/nginx'), '-v'),
    debian: 'nginx',
  },
  {
    name: 'openssl', // the HTTP/2 tests make a self-signed certificate
    where: 'on the PATH',
    check: () => version(onPath('openssl'), 'version'),
    debian: 'openssl',
  },
  {
    name: 'initdb and postgres', // the PostgreSQL restart test runs a server of its own, in a temporary directory
    where: PG_BIN,
    check: () => version(executable(path.join(PG_BIN, 'postgres')), '--version'),
    debian: 'postgresql-15',
    hint: 'or set PG_BIN',
  },
  {
    name: `PostgreSQL at ${PG_URL.replace(/\/\/[^@/]*@/, '//')} (PG_URL)`, // the PostgreSQL store's tests, a schema each
    check: () => pgAnswers(PG_URL),
    debian: 'postgresql-15',
    start: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    hint:
      'it must let the role of PG_URL in (the default: `createuser -s root && createdb -O root test` as postgres, ' +
      'with trust or a password for 127.0.0.1 in pg_hba.conf), or set PG_URL',
  },
  {
    name: 'promtool', // the metrics tests check the exposition with `promtool check metrics`
    where: 'on the PATH',
    check: () => version(onPath('promtool'), '--version'),
    debian: 'prometheus',
  },
  {
    name: 'prometheus', // the metrics test runs its own server, on a free port with a temporary config and storage
    where: 'on the PATH',
    check: () => version(onPath('prometheus'), '--version'),
    debian: 'prometheus',
  },
];

const packages = (row) => [row.debian ?? []].flat();
const say = (state, row, detail) =>
  console.log(`test setup: ${state.padEnd(8)} ${row.name}${detail ? `: ${detail}` : ''}`);

const missing = [];
for (const row of REQUIREMENTS) {
  // A service whose package an earlier row found missing is not installed: no use starting it.
  const installed = !missing.some((earlier) => packages(earlier).some((name) => packages(row).includes(name)));
  if (!(await present(row, '', installed))) missing.push(row);
}
if (missing.length > 0) {
  const cannot = whyNoInstall(missing);
  if (cannot !== undefined) stop(missing, cannot);
  const wanted = [...new Set(missing.flatMap(packages))];
  console.log(`test setup: installing ${wanted.join(' ')} with apt-get`);
  if (!apt(['update', '--error-on=any'])) stop(missing, 'apt-get update failed: are the repositories reachable?');
  if (!apt(['install', '-y', '-o', 'DPkg::Lock::Timeout=120', ...wanted])) stop(missing, 'apt-get install failed');
  const still = [];
  for (const row of missing) {
    if (!(await present(row, ' (installed)', true))) still.push(row);
  }
  if (still.length > 0) stop(still, 'still missing after apt-get install');
}

/** Whether `row` is there, once its service (if it has one, and it is `installed`) is started; says which. */
async function present(row, note, installed) {
  const found = await row.check();
  if (found !== undefined) {
    say('ok', row, found + note);
    return true;
  }
  if (row.start === undefined || !installed) {
    const where = row.where && `not found ${row.where.startsWith('/') ? 'at ' : ''}${row.where}`;
    say('missing', row, installed ? where : 'not installed');
    return false;
  }
  say('starting', row, row.start);
  if (spawnSync('sh', ['-c', row.start], { stdio: 'inherit' }).status === 0) {
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(100)) {
      const up = await row.check();
      if (up !== undefined) {
        say('ok', row, `${up} (started)`);
        return true;
      }
    }
  }
  say('missing', row, 'did not start');
  return false;
}

/** Why apt-get cannot install `rows` here, or nothing when it can. */
function whyNoInstall(rows) {
  if (rows.some((row) => packages(row).length === 0)) return 'not all of it is for apt-get to install';
  if (!existsSync('/etc/debian_version') || onPath('apt-get') === undefined) return 'not Debian: install them yourself';
  if (!ROOT) return 'not root, so nothing was installed';
  return undefined;
}

/** One line per missing piece with how to get it, then exit 1 before anything is built. */
function stop(rows, why) {
  console.error(`test setup: cannot run the tests (${why}):`);
  for (const row of rows) {
    const install = packages(row).length > 0 ? `apt-get install -y ${packages(row).join(' ')}` : undefined;
    const how = row.start
      ? `start it with \`${row.start}\`${install ? ` (installed by \`${install}\`)` : ''}`
      : install && `install it with \`${install}\` (as root)`;
    console.error(`  ${row.name}: ${[how, row.hint].filter(Boolean).join(', ')}`);
  }
  process.exit(1);
}

function apt(args) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  return spawnSync('apt-get', args, { stdio: 'inherit', env }).status === 0;
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return undefined;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, name)) !== undefined) return path.join(dir, name);
  }
  return undefined;
}

/** The server's version when `url` answers a query (psql, which postgresql-15 brings), or nothing. */
function pgAnswers(url) {
  const psql = onPath('psql');
  if (psql === undefined) return undefined;
  const run = spawnSync(psql, [url, '-tAc', 'SHOW server_version'], { encoding: 'utf8', timeout: 10_000 });
  return run.status === 0 ? `answers, version ${run.stdout.trim()}` : undefined;
}

/** `file` and the version its `args` print, or nothing when `file` is nothing. */
function version(file, ...args) {
  if (file === undefined) return undefined;
  const run = spawnSync(file, args, { encoding: 'utf8', timeout: 10_000 });
  const number = /\d+(\.\d+)+/.exec(`${run.stdout ?? ''} ${run.stderr ?? ''}`)?.[0];
  return number === undefined ? file : `${file} ${number}`;
}

function redisTarget(url) {
  const { protocol, hostname, port } = new URL(url);
  const target = { protocol, host: hostname, port: Number(port || 6379) };
  return { ...target, local: ['127.0.0.1', 'localhost'].includes(hostname) && target.port === 6379 };
}

/** 'answers PING' when a Redis server answers at `target` (`rediss:`: when the port accepts a connection). */
function redisAnswers({ protocol, host, port }) {
  return new Promise((resolve) => {
    const socket = net.connect(port, host, () => {
      if (protocol === 'rediss:') finish('accepts connections (TLS, not checked further)');
      else socket.write('PING\r\n');
    });
    const finish = (answer) => {
      socket.destroy();
      resolve(answer);
    };
    // -NOAUTH: a server with a password, which REDIS_URL carries for the tests.
    socket.once('data', (data) => finish(/^(\+PONG|-NOAUTH)/.test(data.toString()) ? 'answers PING' : undefined));
    socket.once('error', () => finish(undefined));
    socket.setTimeout(2000, () => finish(undefined));
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
