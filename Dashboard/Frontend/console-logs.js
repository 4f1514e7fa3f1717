// One resource's console, live (Server-Sent Events from the dashboard, which follows the AppHost's
// WatchResourceConsoleLogs): the kept lines first, then each new one. Virtualised the simple way: at most
// data-max lines stay in the DOM (a few thousand), the older ones are dropped from the page and counted above it,
// so a resource with a million lines costs what one with a few thousand does (Aspire issue #6281).
(() => {
  const view = document.getElementById('console');
  if (!view) return;
  const max = Number(view.dataset.max || 5000);
  const earlier = document.getElementById('console-earlier');
  const state = document.getElementById('console-state');
  const ansi = /\x1b\[[0-9;?]*[A-Za-z]/g;
  let dropped = 0;   // lines received, no longer in the DOM
  let received = 0;  // lines received in all
  let last = 0;      // the highest line number shown: a reconnect sends the kept lines again

  function row(line) {
    const div = document.createElement('div');
    div.className = line.e ? 'line stderr' : 'line';
    div.dataset.n = line.n;
    const number = document.createElement('span');
    number.className = 'n';
    number.textContent = line.n;
    div.append(number);
    if (line.e) {
      const tag = document.createElement('span');
      tag.className = 'tag';
      tag.textContent = 'stderr';
      div.append(tag);
    }
    const text = document.createElement('span');
    text.className = 't';
    text.textContent = line.t.replace(ansi, '');
    div.append(text);
    return div;
  }

  function skipped(count) {
    const div = document.createElement('div');
    div.className = 'line skipped';
    div.textContent = `… ${count.toLocaleString('en')} line${count === 1 ? '' : 's'} not kept by the AppHost …`;
    return div;
  }

  // Lines wait here and go onto the page at most every flushEvery ms, in the next frame: each flush costs a layout of
  // the whole window (the oldest lines leave at the top), so a burst of small batches must cost one, not one each.
  // Bounded too: while the tab is hidden (timers slowed, no frames) only the newest max lines are held.
  const flushEvery = 100;
  let pending = [];
  let scheduled = false;
  let lastFlush = -Infinity;

  function append(lines) {
    for (const line of lines) {
      if (line.n <= last) continue;
      last = line.n;
      received++;
      pending.push(line);
    }
    if (pending.length > 2 * max) {
      dropped += pending.length - max;
      pending = pending.slice(pending.length - max);
    }
    if (!scheduled && pending.length > 0) {
      scheduled = true;
      setTimeout(() => requestAnimationFrame(flush), Math.max(0, lastFlush + flushEvery - performance.now()));
    }
  }

  function flush() {
    scheduled = false;
    lastFlush = performance.now();
    const follow = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
    let lines = pending;
    pending = [];
    // Of more lines than the window, only the end is ever shown: the rest is counted, never created.
    if (lines.length > max) {
      dropped += lines.length - max;
      lines = lines.slice(lines.length - max);
    }
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      if (line.s > 0) fragment.append(skipped(line.s));
      fragment.append(row(line));
    }
    view.append(fragment);
    const excess = view.childElementCount - max;
    if (excess > 0) {
      const range = document.createRange();
      range.setStartBefore(view.firstElementChild);
      let node = view.firstElementChild;
      for (let i = 0; i < excess; i++) {
        if (!node.classList.contains('skipped')) dropped++;
        range.setEndAfter(node);
        node = node.nextElementSibling;
      }
      range.deleteContents();
    }
    if (earlier) {
      earlier.hidden = dropped === 0;
      earlier.textContent = `${dropped.toLocaleString('en')} earlier line${dropped === 1 ? '' : 's'} not shown (the page keeps the last ${max.toLocaleString('en')})`;
    }
    if (follow) view.scrollTop = view.scrollHeight;
  }

  window.kilnConsole = { append, stats: () => ({ received, dropped, inDom: view.childElementCount, pending: pending.length }) };

  if (!view.dataset.stream) return;
  const events = new EventSource(view.dataset.stream);
  events.onopen = () => { if (state) state.textContent = 'live'; };
  events.onerror = () => { if (state) state.textContent = 'reconnecting…'; };
  events.onmessage = e => append(JSON.parse(e.data));
  events.addEventListener('ended', e => {
    events.close();
    if (state) state.textContent = JSON.parse(e.data) || 'ended';
  });
})();
