/** Whether a run is under way, and whether another is due when it ends. */
export interface Turns {
  reading: boolean;
  again: boolean;
}

/**
 * Runs `pass` one run at a time per `turns`: a call while a run is under way only asks for one more pass after it,
 * however many calls come (the reads a stream of notifications asks for: one read covers them all). `pass` returns
 * false to stop before the next pass, and may set `turns.again` itself (a full page: read on).
 */
export async function inTurn(turns: Turns, pass: () => Promise<boolean>): Promise<void> {
  if (turns.reading) {
    turns.again = true;
    return;
  }
  turns.reading = true;
  try {
    do {
      turns.again = false;
      if (!(await pass())) return;
    } while (turns.again);
  } finally {
    turns.reading = false;
  }
}
