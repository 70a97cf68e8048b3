import { MemoryStore } from '../../src';
import { describeTaskStore } from './conformance';
import { describeTransactionRefusal } from './transactions';

describeTaskStore('MemoryStore', () => new MemoryStore());

describe('MemoryStore', () => {
  it('counts its subscriptions, so leaks can be seen', async () => {
    const store = new MemoryStore();
    const off = [
      await store.subscribe('a', () => {}),
      await store.subscribe('a', () => {}),
      await store.subscribe('b', () => {}),
    ];
    expect(store.subscriptionCount).toBe(3);
    off.forEach((unsubscribe) => unsubscribe());
    off[0]!(); // a second call changes nothing
    expect(store.subscriptionCount).toBe(0);
    await store.close();
  });

  describeTransactionRefusal('the memory store', () => new MemoryStore());
});
