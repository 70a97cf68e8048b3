import { PostgresStore } from '../../src/postgres';
import { PG_URL, dropSchemas, uniqueSchema } from '../helpers/postgres';
import { describeTaskStore } from './conformance';

const schemas: string[] = [];
afterAll(() => dropSchemas(schemas));

// A schema per test: the owner groups (and the group of the tasks without an owner) span every type of a store.
describeTaskStore('PostgresStore', async () => {
  const schema = uniqueSchema('conformance');
  schemas.push(schema);
  const store = new PostgresStore({ connectionString: PG_URL, schema, poolSize: 4 });
  await store.migrate();
  return store;
});
