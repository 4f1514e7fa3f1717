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

  function append(lines) {
    const follow = view.scrollTop + view.clientHeight >= view.scrollHeight - 8;
    const fresh = lines.filter(l => l.n > last);
    if (fresh.length === 0) return;
    last = fresh[fresh.length - 1].n;
    received += fresh.length;
    // Of a batch larger than the window, only its end is ever shown: the rest is counted, never created.
    const start = Math.max(0, fresh.length - max);
    dropped += start;
    const fragment = document.createDocumentFragment();
    for (let i = start; i < fresh.length; i++) {
      if (fresh[i].s > 0) fragment.append(skipped(fresh[i].s));
      fragment.append(row(fresh[i]));
    }
    view.append(fragment);
    const excess = view.childElementCount - max;
    if (excess > 0) {
      const range = document.createRange();
      range.setStartBefore(view.firstElementChild);
      range.setEndAfter(view.children[excess - 1]);
      for (let i = 0; i < excess; i++) if (!view.children[i].classList.contains('skipped')) dropped++;
      range.deleteContents();
    }
    if (earlier) {
      earlier.hidden = dropped === 0;
      earlier.textContent = `${dropped.toLocaleString('en')} earlier line${dropped === 1 ? '' : 's'} not shown (the page keeps the last ${max.toLocaleString('en')})`;
    }
    if (follow) view.scrollTop = view.scrollHeight;
  }

  window.kilnConsole = { append, stats: () => ({ received, dropped, inDom: view.childElementCount }) };

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
