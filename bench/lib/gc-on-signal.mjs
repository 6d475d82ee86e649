/**
 * Preloaded into Strand by the idle workload (`node --expose-gc --import …/gc-on-signal.mjs`):
 * SIGUSR2 runs full garbage collections, so that RSS readings before and after N logins compare
 * live memory instead of whenever V8's lazy memory reducer last ran (it moves tens of MB).
 * Touches nothing else in the server.
 */
const gc = globalThis.gc;
if (typeof gc === 'function') {
  process.on('SIGUSR2', () => {
    gc();
    gc();
  });
}
