// Counts live timers, unref'd ones included (process.getActiveResourcesInfo() lists only ref'd ones): wraps the
// global timer functions before any target code is loaded. The wrappers cost one Set add/delete per timer.
const live = new Set();
const {
  setTimeout: origSetTimeout,
  setInterval: origSetInterval,
  clearTimeout: origClearTimeout,
  clearInterval: origClearInterval,
} = globalThis;

globalThis.setTimeout = function setTimeout(callback, ms, ...args) {
  const timer = origSetTimeout(
    (...callArgs) => {
      live.delete(timer);
      callback(...callArgs);
    },
    ms,
    ...args,
  );
  live.add(timer);
  return timer;
};
globalThis.setInterval = function setInterval(callback, ms, ...args) {
  const timer = origSetInterval(callback, ms, ...args);
  live.add(timer);
  return timer;
};
globalThis.clearTimeout = function clearTimeout(timer) {
  live.delete(timer);
  origClearTimeout(timer);
};
globalThis.clearInterval = function clearInterval(timer) {
  live.delete(timer);
  origClearInterval(timer);
};

/** Timers created through the globals and neither fired (setTimeout) nor cleared. */
export function liveTimerCount() {
  return live.size;
}
