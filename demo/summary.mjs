// The `summary` task: writes a short account of a month's sales, word by word, as a language model would stream an
// answer (deterministic: the words come from the month's figures, no model). Each word is one `job.write()`.
import { z } from 'zod';
import { delay, month, salesForMonth } from './report.mjs';

/** The input of a `summary`: `{ month: 'YYYY-MM' }`, the month as a report takes it. */
export const summaryInput = z.object({ month });

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const count = new Intl.NumberFormat('en-US');

/** The handler of the `summary` task type; its input is `summaryInput`'s output. Result: `{ words }`. */
export function summaryJob({ wordDelayMs }) {
  return async function summary(job) {
    const words = summaryOf(job.input.month).split(' ');
    job.progress(0, 'Writing');
    for (const [index, word] of words.entries()) {
      await delay(wordDelayMs, job.signal);
      job.write(index === 0 ? word : ` ${word}`);
      if (index % 10 === 9) job.progress(Math.round(((index + 1) / words.length) * 100), 'Writing');
    }
    return { words: words.length };
  };
}

/** A few sentences about the month, from the same figures the report uses. */
export function summaryOf(month) {
  const days = salesForMonth(month);
  const orders = days.reduce((sum, day) => sum + day.orders, 0);
  const revenue = days.reduce((sum, day) => sum + day.revenue, 0);
  const best = days.reduce((top, day) => (day.revenue > top.revenue ? day : top));
  const worst = days.reduce((low, day) => (day.revenue < low.revenue ? day : low));
  const weekend = days.filter((day) => [0, 6].includes(new Date(`${day.date}T00:00:00Z`).getUTCDay()));
  const weekendShare = weekend.reduce((sum, day) => sum + day.revenue, 0) / revenue;
  const name = new Date(`${month}-01T00:00:00Z`).toLocaleDateString('en-US', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
  return [
    `In ${name} the store took ${count.format(orders)} orders worth ${money.format(revenue)},`,
    `about ${money.format(revenue / days.length)} a day.`,
    `The best day was ${best.date} with ${money.format(best.revenue)} from ${best.orders} orders,`,
    `and the quietest was ${worst.date} with ${money.format(worst.revenue)}.`,
    `Weekends brought ${Math.round(weekendShare * 100)}% of the revenue on ${weekend.length} of ${days.length} days,`,
    'so staffing the weekend shifts well remains the surest way to grow the month.',
  ].join(' ');
}
