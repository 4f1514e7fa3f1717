// Applies /live (Server-Sent Events) to the open page without a reload: a new latest value updates its row; an alert
// transition re-fetches the page's main content (states and counts are computed on the server). EventSource
// reconnects by itself when the stream drops.
(() => {
    const state = document.getElementById('live-state');
    const number = v => (Math.round(v * 1000) / 1000).toString();
    const age = ms => {
        const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
        return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 172800 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
    };
    const staleAfterMs = 5 * 60 * 1000;

    function applyReading(reading) {
        const row = document.querySelector(`tr[data-sensor="${CSS.escape(reading.sensorId)}"]`);
        if (!row) return;
        const ts = Date.parse(reading.timestamp);
        if (row.dataset.ts && Number(row.dataset.ts) > ts) return; // an older value never replaces a newer one
        row.dataset.ts = String(ts);
        row.querySelector('.latest').textContent = number(reading.value);
        refreshRow(row);
    }

    function refreshRow(row) {
        if (!row.dataset.ts) return;
        const ts = Number(row.dataset.ts);
        row.querySelector('.age').textContent = age(ts);
        const alerting = Number(row.dataset.alerts || 0) > 0;
        const s = alerting ? 'alerting' : Date.now() - ts > staleAfterMs ? 'stale' : 'ok';
        const cell = row.querySelector('.state span');
        if (cell.textContent !== s) { cell.textContent = s; cell.className = `state-${s}`; }
    }

    let pending = null;
    function refetchMain() {
        if (pending) return;
        pending = setTimeout(async () => {
            pending = null;
            const response = await fetch(location.pathname + location.search, { credentials: 'same-origin' });
            if (!response.ok) return;
            const next = new DOMParser().parseFromString(await response.text(), 'text/html').querySelector('main');
            if (next) document.querySelector('main').replaceWith(next);
        }, 300);
    }

    const source = new EventSource('live');
    source.addEventListener('ready', () => { if (state) state.textContent = 'live'; });
    source.addEventListener('reading', e => applyReading(JSON.parse(e.data)));
    source.addEventListener('alert', () => refetchMain());
    source.onerror = () => { if (state) state.textContent = 'reconnecting…'; };
    setInterval(() => document.querySelectorAll('tr[data-sensor]').forEach(refreshRow), 1000);
})();
