// Keeps a page's live region ([data-live]) current without a reload: the server sends an event on every change the
// page shows (its stream is [data-events]: /resources/events, /traces/stream?…, /metrics/stream?…), and the region is
// fetched again from the page's own URL (its filters and page number included) and swapped in. Fetches never overlap:
// events that arrive during one are answered by one more. Focus stays on the control that had it (by id), so a
// keyboard user is not thrown back to the top. A region without [data-events] (a past run) stays as it is.
(() => {
  const region = document.querySelector('[data-live]');
  const url = region?.dataset.events;
  if (!url || !window.EventSource) return;
  const state = document.getElementById('live-state');
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        const response = await fetch(location.href, { cache: 'no-store', headers: { Accept: 'text/html' } });
        if (!response.ok) break;
        const fresh = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('[data-live]');
        if (!fresh) break;
        const focused = region.contains(document.activeElement) ? document.activeElement.id : '';
        region.replaceChildren(...fresh.childNodes);
        if (focused) document.getElementById(focused)?.focus();
        region.dispatchEvent(new CustomEvent('kiln:refreshed', { bubbles: true }));
      } while (again);
    } catch {
      // The next event tries again.
    } finally {
      busy = false;
    }
  }

  const events = new EventSource(url);
  events.onopen = () => { if (state) state.textContent = 'live'; };
  events.onerror = () => { if (state) state.textContent = 'reconnecting…'; };
  // The first event too: something may have changed between this page's rendering and the stream's opening.
  events.onmessage = () => refresh();
})();
