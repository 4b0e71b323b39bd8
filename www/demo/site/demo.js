// Demo page glue: registers the worker and shows what it did.
const status = document.getElementById('sw-status');
async function showStats() {
  const reg = await navigator.serviceWorker.ready;
  const ch = new MessageChannel();
  ch.port1.onmessage = (e) => { document.getElementById('stats').textContent = JSON.stringify(e.data, null, 2); };
  reg.active.postMessage({ type: 'GET_STATS' }, [ch.port2]);
}
if ('serviceWorker' in navigator) {
  const show = () => {
    status.textContent = navigator.serviceWorker.controller
      ? 'controlled by swcache: reload, and "rendered at" stays the same (served from the cache)'
      : 'worker installing…';
  };
  navigator.serviceWorker.addEventListener('controllerchange', () => { show(); showStats(); });
  navigator.serviceWorker.register('/sw.js').then(() => navigator.serviceWorker.ready).then(() => {
    show();
    showStats();
  }, (err) => { status.textContent = 'worker failed: ' + err.message; });
} else {
  status.textContent = 'service workers are not supported here';
}
document.getElementById('refresh-stats')?.addEventListener('click', showStats);
