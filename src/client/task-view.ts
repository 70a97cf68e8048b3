import type { OutputData } from './types.js';
import { OUTPUT_EVENT, RESET_EVENT, TASK_EVENTS } from './vocabulary.js';

/** What a page is told of one task, once its events are read. */
export interface ViewHandlers {
  snapshot?: (event: string, snapshot: unknown) => void;
  progress?: (progress: unknown) => void;
  output?: (text: string, delta: string) => void;
  custom?: (name: string, data: unknown) => void;
  reset?: () => void;
}

const SNAPSHOT_EVENTS = new Set(TASK_EVENTS.filter((name) => name !== 'progress' && name !== OUTPUT_EVENT));

/**
 * One task as a page sees it: each event handed to its handler, and the task's output assembled from `output`
 * events (each placed at its offset), so the text always equals the server's: a whole-text catch-up replaces it, a
 * snapshot whose `outputLength` is shorter (a retry) cuts it, and a `reset` empties it before the fresh start.
 */
export class TaskView {
  readonly #handlers: ViewHandlers;
  #text = '';

  constructor(handlers: ViewHandlers) {
    this.#handlers = handlers;
  }

  get text(): string {
    return this.#text;
  }

  receive(event: string, data: unknown): void {
    const handlers = this.#handlers;
    if (event === OUTPUT_EVENT) return this.#output(data as OutputData);
    if (event === RESET_EVENT) {
      this.#set('', '');
      return handlers.reset?.();
    }
    if (event === 'progress') return handlers.progress?.(data);
    if (!SNAPSHOT_EVENTS.has(event)) return handlers.custom?.(event, data);
    const { outputLength } = data as { outputLength?: number };
    if (typeof outputLength === 'number' && outputLength < this.#text.length) {
      const cut = this.#text.slice(0, outputLength);
      this.#set(cut, cut);
    }
    handlers.snapshot?.(event, data);
  }

  #output({ offset, text }: OutputData): void {
    if (offset > this.#text.length) return; // never sent: the server writes offsets in order
    const whole = this.#text.slice(0, offset) + text;
    if (whole === this.#text) return;
    this.#set(whole, offset === this.#text.length ? text : whole);
  }

  #set(text: string, delta: string): void {
    if (text === this.#text) return;
    this.#text = text;
    this.#handlers.output?.(text, delta);
  }
}
