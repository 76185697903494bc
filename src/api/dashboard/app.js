'use strict';
// The store dashboard: REST for the slow-moving figures, one WebSocket for analytics ticks, one per camera for video.
(async function () {
  const config = await (await fetch('config.json')).json();
  const api = config.apiBase;
  const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${api}/ws`;
  const $ = (id) => document.getElementById(id);
  for (const interval of ['minute', 'hour', 'day']) $(`export-${interval}`).href = `${api}/export?interval=${interval}&format=csv`;
  const cameraViews = new Map();
  const occupancySeries = [];
  const OCCUPANCY_WINDOW_MS = 10 * 60 * 1000;

  const footfallChart = new Chart($('footfall-chart'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Entries', data: [], backgroundColor: '#2e86de' }, { label: 'Sales', data: [], backgroundColor: '#f39c12' }] },
    options: { responsive: true, animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const occupancyChart = new Chart($('occupancy-chart'), {
    type: 'line',
    data: { labels: [], datasets: [{ label: 'People', data: [], borderColor: '#10ac84', backgroundColor: 'rgba(16,172,132,0.15)', fill: true, pointRadius: 0, tension: 0.3 }] },
    options: { responsive: true, animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });

  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const setText = (id, text) => { if ($(id).textContent !== String(text)) $(id).textContent = text; };
  setInterval(() => setText('clock', new Date().toLocaleTimeString()), 1000);

  function setConnected(connected) {
    const badge = $('connection');
    badge.textContent = connected ? 'live' : 'reconnecting…';
    badge.className = `badge ${connected ? 'online' : 'offline'}`;
  }

  /** A WebSocket that reconnects with backoff (1 s to 10 s) for as long as the page is open. */
  function connect(url, handlers) {
    let delay = 1000;
    let socket;
    const open = () => {
      socket = new WebSocket(url);
      socket.binaryType = 'blob';
      socket.onopen = () => { delay = 1000; handlers.open && handlers.open(); };
      socket.onmessage = (event) => handlers.message(event.data);
      socket.onclose = () => { handlers.close && handlers.close(); setTimeout(open, delay); delay = Math.min(delay * 2, 10000); };
    };
    open();
  }

  function cameraCard(id) {
    if (cameraViews.has(id)) return cameraViews.get(id);
    const card = document.createElement('article');
    card.className = 'camera';
    card.innerHTML = `<h2><span class="name"></span><span class="count muted"></span></h2>
      <div class="view"><canvas></canvas><img class="heatmap" hidden alt="heatmap"></div>
      <div class="row"><span class="muted state"></span><button type="button">Heatmap</button></div>`;
    card.querySelector('.name').textContent = id;
    $('cameras').appendChild(card);
    const canvas = card.querySelector('canvas');
    const heatmap = card.querySelector('img');
    const button = card.querySelector('button');
    const view = { card, canvas, frames: 0 };
    button.onclick = () => {
      const on = heatmap.hidden;
      heatmap.hidden = !on;
      button.classList.toggle('on', on);
      if (on) heatmap.src = `${api}/cameras/${encodeURIComponent(id)}/heatmap?t=${Date.now()}`;
    };
    setInterval(() => { if (!heatmap.hidden) heatmap.src = `${api}/cameras/${encodeURIComponent(id)}/heatmap?t=${Date.now()}`; }, 10000);
    heatmap.onerror = () => { heatmap.hidden = true; button.classList.remove('on'); button.textContent = 'No heatmap yet'; };
    connect(`${wsBase}/stream/${encodeURIComponent(id)}`, {
      message: async (blob) => {
        if (!(blob instanceof Blob)) return;
        const bitmap = await createImageBitmap(blob);
        if (canvas.width !== bitmap.width) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
        canvas.getContext('2d').drawImage(bitmap, 0, 0);
        bitmap.close();
        view.frames++;
        canvas.dataset.frames = String(view.frames);
      },
    });
    cameraViews.set(id, view);
    return view;
  }

  function renderZones(cameras) {
    const alert = (z) => (z.alert && z.alert.active ? ` <span class="badge offline" title="raised ${time(z.alert.since)}, ${z.alert.measure} at or above ${z.alert.above}">${z.alert.measure === 'wait' ? 'long wait' : 'crowded'}</span>` : '');
    const rows = cameras.flatMap((c) => c.zones.map((z) => `<tr${z.alert && z.alert.active ? ' class="alerting"' : ''}><td>${escape(c.id)}</td><td>${escape(z.name || z.id)}${alert(z)}</td><td>${z.currentCount}</td>
      <td>${z.totalEntries}</td><td>${z.totalExits}</td><td>${z.avgDwellSeconds == null ? '–' : `${z.avgDwellSeconds.toFixed(1)} s`}</td><td>${z.peakCount}</td></tr>`));
    const html = rows.join('') || '<tr><td colspan="7" class="muted">no zones configured</td></tr>';
    if ($('zones').innerHTML !== html) $('zones').innerHTML = html;
  }

  function renderConversionDays(days) {
    const figure = (value, format) => (value === null ? '–' : format(value));
    const html = days.slice().reverse().map((d) => `<tr><td>${escape(d.day)}</td><td>${d.footfall}</td><td>${d.transactions}</td>
      <td>${figure(d.conversionRate, (r) => `${(r * 100).toFixed(1)} %`)}</td><td>${figure(d.averageBasket, (v) => v.toFixed(2))}</td>
      <td>${figure(d.basketPerVisitor, (v) => v.toFixed(2))}</td></tr>`).join('');
    if ($('conversion-days').innerHTML !== html) $('conversion-days').innerHTML = html;
  }

  function escape(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  let lastCounts = null;
  let salesRecorded = false;

  function showConversion(today) {
    salesRecorded = today !== null;
    $('conversion-kpi').hidden = !salesRecorded;
    $('conversion-panel').hidden = !salesRecorded;
    $('sales-legend').hidden = !salesRecorded;
    footfallChart.options.plugins.legend.display = salesRecorded;
    if (!salesRecorded) return;
    setText('conversion', today.conversionRate === null ? '–' : `${(today.conversionRate * 100).toFixed(1)} %`);
    const perVisitor = today.basketPerVisitor === null ? '' : ` · ${today.basketPerVisitor.toFixed(2)} per visitor`;
    setText('sales', `${today.transactions} sales${perVisitor}`);
  }

  function onTick(tick) {
    // New entries or sales change the per-hour chart: fetch it now rather than at the next periodic refresh.
    const counts = `${tick.total.footfallToday}/${tick.conversionToday ? tick.conversionToday.transactions : '-'}`;
    if (lastCounts !== null && counts !== lastCounts) refreshStats();
    lastCounts = counts;
    showConversion(tick.conversionToday);
    setText('occupancy', tick.total.occupancy);
    setText('footfall', tick.total.footfallToday);
    // With a store calendar: whether the store is open, and who came in while it was closed (not footfall).
    const outside = tick.total.footfallOutsideHoursToday;
    const units = tick.total.buyingUnitsToday;
    const staff = tick.total.staffToday;
    setText('footfall-note', [units == null ? '' : `${units} buying units`, staff ? `staff: ${staff}` : '', tick.storeOpen === false ? 'store closed' : '', outside ? `+${outside} outside opening hours` : ''].filter(Boolean).join(' · '));
    setText('peak', tick.total.peakToday ? tick.total.peakToday.count : '–');
    setText('peak-at', tick.total.peakToday ? `at ${time(tick.total.peakToday.at)}` : '');
    for (const camera of tick.cameras) {
      const view = cameraCard(camera.id);
      view.card.querySelector('.count').textContent = `${camera.occupancy} people`;
    }
    renderZones(tick.cameras);
    occupancySeries.push({ at: tick.at, value: tick.total.occupancy });
    while (occupancySeries.length && occupancySeries[0].at < tick.at - OCCUPANCY_WINDOW_MS) occupancySeries.shift();
    occupancyChart.data.labels = occupancySeries.map((p) => new Date(p.at).toLocaleTimeString());
    occupancyChart.data.datasets[0].data = occupancySeries.map((p) => p.value);
    occupancyChart.update();
  }

  async function refreshStats() {
    try {
      const stats = await (await fetch(`${api}/stats`)).json();
      showConversion(stats.conversionToday);
      if (salesRecorded) {
        // Hours with sales but no footfall show too; the conversion report joins both.
        const conversion = await (await fetch(`${api}/conversion`)).json();
        footfallChart.data.labels = conversion.hours.map((h) => h.hour.slice(11, 16));
        footfallChart.data.datasets[0].data = conversion.hours.map((h) => h.footfall);
        footfallChart.data.datasets[1].data = conversion.hours.map((h) => h.transactions);
        renderConversionDays(conversion.days);
      } else {
        footfallChart.data.labels = stats.total.footfallByHour.map((h) => h.hour.slice(11, 16));
        footfallChart.data.datasets[0].data = stats.total.footfallByHour.map((h) => h.footfall);
        footfallChart.data.datasets[1].data = [];
      }
      footfallChart.update();
    } catch {
      // The analytics socket shows the connection state; the next refresh tries again.
    }
  }
  refreshStats();
  setInterval(refreshStats, 15000);

  /** Health every few seconds: a camera or model that is down shows on its card and in the header at once. */
  async function refreshHealth() {
    try {
      const health = await (await fetch(`${api}/health`)).json();
      const badge = $('health');
      badge.textContent = health.status === 'ok' ? 'all cameras ok' : `${health.status}: ${health.problems.map((p) => `${p.id} ${p.problem}`).join('; ')}`;
      badge.className = `badge ${health.status}`;
      for (const camera of health.cameras) {
        // Fleet cameras (fleet-aggregate) are labelled with the instance that counts them.
        const where = camera.instance ? `${camera.instance} · ` : '';
        const { card } = cameraCard(camera.id);
        card.classList.toggle('down', camera.problem !== null);
        card.querySelector('.state').textContent = camera.problem ? `${where}DOWN · ${camera.problem}` : `${where}${camera.state} · ${camera.fps} fps`;
      }
    } catch {
      // Unreachable API: the analytics socket's badge says so.
    }
  }
  refreshHealth();
  setInterval(refreshHealth, 5000);

  connect(`${wsBase}/analytics`, {
    open: () => { setConnected(true); refreshStats(); },
    close: () => setConnected(false),
    message: (text) => {
      const message = JSON.parse(text);
      if (message.type === 'tick') onTick(message);
    },
  });
})();
