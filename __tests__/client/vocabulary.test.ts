// The browser client ships alone, so it keeps a copy of the server's vocabulary: the two must say the same.
import * as client from '../../src/client/vocabulary';
import * as server from '../../src/vocabulary';

describe("the browser client's vocabulary", () => {
  it('names the same task events, terminal events and heartbeat as the server', () => {
    expect([...client.TASK_EVENTS]).toEqual([...server.TASK_EVENTS]);
    expect([...client.TERMINAL_EVENTS]).toEqual([...server.TERMINAL_EVENTS]);
    expect(client.HEARTBEAT_EVENT).toBe(server.HEARTBEAT_EVENT);
    expect([client.OUTPUT_EVENT, client.RESET_EVENT]).toEqual([server.OUTPUT_EVENT, server.RESET_EVENT]);
    expect([...client.RESERVED_EVENTS]).toEqual([...server.RESERVED_EVENTS]);
  });

  it('tells terminal events as the server does', () => {
    for (const event of [...server.TASK_EVENTS, server.HEARTBEAT_EVENT, 'error', 'message']) {
      expect([event, client.isTerminalEvent(event)]).toEqual([event, server.isTerminalEvent(event)]);
    }
  });
});
