import type { TaskStore } from '../../src';
import { PostgresStore } from '../../src/postgres';
import { RedisStore } from '../../src/redis';
import { PG_URL, dropSchemas, uniqueSchema } from './postgres';
import { REDIS_URL, deleteKeys, uniquePrefix } from './redis';

/** One of the stores that share tasks between processes, on a fresh key prefix or schema of its own. */
export interface SharedStore {
  /** Opens a store on the shared tasks (one per app or process, as in production). */
  open(): Promise<TaskStore>;
  /** The shape of its event ids (and owner feed positions). */
  idPattern: RegExp;
  /** Deletes what the tests wrote. */
  cleanUp(): Promise<unknown>;
}

function redis(label: string): SharedStore {
  const keyPrefix = uniquePrefix(label);
  return {
    open: async () => new RedisStore({ url: REDIS_URL, keyPrefix }),
    idPattern: /^\d+-\d+$/,
    cleanUp: () => deleteKeys(keyPrefix),
  };
}

function postgres(label: string): SharedStore {
  const schema = uniqueSchema(label);
  return {
    async open() {
      const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
      await store.migrate();
      return store;
    },
    idPattern: /^\d+$/,
    cleanUp: () => dropSchemas([schema]),
  };
}

/** For `describe.each`: every shared store, by name, with its factory. */
export const SHARED_STORES: Array<[string, (label: string) => SharedStore]> = [
  ['RedisStore', redis],
  ['PostgresStore', postgres],
];
