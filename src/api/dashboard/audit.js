'use strict';
// The count audit: record a clip of a camera, play it, tally each crossing and entry, and score the product against it.
(async function () {
  const config = await (await fetch('config.json')).json();
  const api = config.apiBase;
  const $ = (id) => document.getElementById(id);
  const KIND_WORDS = { in: 'in', out: 'out', entry: 'entries' };
  const percent = (value) => (value === null ? '–' : `${(value * 100).toFixed(1)} %`);
  const clock = (ms) => new Date(ms).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' });
  const offset = (ms) => `${Math.floor(ms / 60000)}:${((ms % 60000) / 1000).toFixed(1).padStart(4, '0')}`;

  async function call(path, init) {
    const res = await fetch(`${api}${path}`, init && { method: init.method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(init.body) });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
    return body;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // Recording.
  async function loadCameras() {
    const cameras = (await call('/cameras')).filter((c) => c.instance === null);
    const select = $('camera');
    const chosen = select.value;
    select.replaceChildren(...cameras.map((c) => new Option(c.name === c.id ? c.id : `${c.name} (${c.id})`, c.id)));
    if (chosen) select.value = chosen;
  }

  $('record').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const clip = await call(`/cameras/${encodeURIComponent($('camera').value)}/clips`, { method: 'POST', body: { seconds: Number($('seconds').value) } });
      $('record-status').textContent = `recording ${clip.seconds} s of ${clip.cameraId}…`;
      await loadClips();
    } catch (err) {
      $('record-status').textContent = err.message;
    }
  });

  let clipsTimer = null;
  async function loadClips() {
    const clips = await call('/clips');
    const body = $('clips');
    body.replaceChildren();
    for (const clip of clips) {
      const row = body.insertRow();
      row.dataset.clip = clip.id;
      cell(row, clip.cameraId);
      cell(row, clock(clip.startedAt ?? clip.requestedAt));
      cell(row, clip.endedAt !== null ? `${((clip.endedAt - clip.startedAt) / 1000).toFixed(0)} s` : `${clip.seconds} s asked`);
      cell(row, String(clip.frames));
      cell(row, clip.note ? `${clip.state}: ${clip.note}` : clip.state);
      cell(row, String(clip.audits));
      const action = row.insertCell();
      if (clip.state === 'ready') {
        const button = document.createElement('button');
        button.type = 'button';
        button.textContent = 'Audit';
        button.addEventListener('click', () => openClip(clip.id));
        action.appendChild(button);
      }
    }
    if (clips.length === 0) cell(body.insertRow(), 'no clips yet', 'muted').colSpan = 7;
    const recording = clips.some((c) => c.state === 'recording');
    if (!recording && $('record-status').textContent.startsWith('recording')) $('record-status').textContent = 'the clip is ready to audit';
    clearTimeout(clipsTimer);
    if (recording) clipsTimer = setTimeout(() => loadClips().catch(() => undefined), 2000);
  }

  async function loadHistory() {
    const audits = await call('/audits');
    const body = $('history');
    body.replaceChildren();
    for (const audit of audits) {
      const row = body.insertRow();
      cell(row, clock(audit.auditedAt));
      cell(row, audit.cameraId);
      cell(row, audit.clipId);
      cell(row, audit.auditor || '–');
      cell(row, String(audit.score.total.truth));
      cell(row, String(audit.score.total.counted));
      cell(row, percent(audit.score.total.netError));
      cell(row, percent(audit.score.total.grossError));
    }
    if (audits.length === 0) cell(body.insertRow(), 'no audits yet', 'muted').colSpan = 8;
  }

  // The player.
  const canvas = $('picture');
  const context = canvas.getContext('2d');
  const player = { clip: null, frame: 0, playing: false, timer: null, images: new Map(), marks: [] };

  function imageOf(n) {
    let image = player.images.get(n);
    if (!image) {
      image = new Image();
      image.src = `${api}/clips/${encodeURIComponent(player.clip.id)}/frames/${n}`;
      player.images.set(n, image);
    }
    return image;
  }

  function drawLayout() {
    const { geometry, width, height } = player.clip;
    if (!geometry) return;
    const scale = canvas.width / width;
    context.lineWidth = 3;
    context.font = 'bold 16px system-ui, sans-serif';
    for (const zone of geometry.zones) {
      context.strokeStyle = '#48dbfb';
      context.fillStyle = 'rgba(72, 219, 251, 0.12)';
      context.beginPath();
      zone.polygon.forEach(([x, y], i) => (i === 0 ? context.moveTo(x * scale, y * scale) : context.lineTo(x * scale, y * scale)));
      context.closePath();
      context.fill();
      context.stroke();
      context.fillStyle = '#48dbfb';
      context.fillText(zone.name || zone.id, zone.polygon[0][0] * scale + 4, zone.polygon[0][1] * scale + 18);
    }
    for (const line of geometry.lines) {
      const [ax, ay] = line.from.map((v) => v * scale);
      const [bx, by] = line.to.map((v) => v * scale);
      context.strokeStyle = '#feca57';
      context.fillStyle = '#feca57';
      context.beginPath();
      context.moveTo(ax, ay);
      context.lineTo(bx, by);
      context.stroke();
      // Crossing to the side (B − A) turned a quarter clockwise (on screen, y down) points to is "in".
      const length = Math.hypot(bx - ax, by - ay) || 1;
      const [nx, ny] = [-(by - ay) / length, (bx - ax) / length];
      const [mx, my] = [(ax + bx) / 2, (ay + by) / 2];
      const [tx, ty] = [mx + nx * 36, my + ny * 36];
      context.beginPath();
      context.moveTo(mx, my);
      context.lineTo(tx, ty);
      context.stroke();
      context.beginPath();
      context.moveTo(tx + nx * 8, ty + ny * 8);
      context.lineTo(tx - ny * 8, ty + nx * 8);
      context.lineTo(tx + ny * 8, ty - nx * 8);
      context.fill();
      context.fillText(`${line.name || line.id} (in)`, tx + nx * 12, ty + ny * 12 + 6);
    }
  }

  function show(n) {
    const { clip } = player;
    player.frame = Math.max(0, Math.min(clip.frameTimes.length - 1, n));
    $('position').value = String(player.frame);
    $('time').textContent = `frame ${player.frame + 1} of ${clip.frameTimes.length} · ${offset(clip.frameTimes[player.frame] - clip.frameTimes[0])}`;
    const image = imageOf(player.frame);
    const draw = () => {
      if (player.clip !== clip || player.frame !== n) return;
      context.drawImage(image, 0, 0, canvas.width, canvas.height);
      drawLayout();
    };
    if (image.complete && image.naturalWidth > 0) draw();
    else image.onload = draw;
    for (let ahead = 1; ahead <= 10 && player.frame + ahead < clip.frameTimes.length; ahead++) imageOf(player.frame + ahead);
  }

  function pause() {
    player.playing = false;
    clearTimeout(player.timer);
    $('play').textContent = '▶ play';
  }

  function play() {
    const { clip } = player;
    if (player.frame >= clip.frameTimes.length - 1) show(0);
    player.playing = true;
    $('play').textContent = '⏸ pause';
    const next = () => {
      if (!player.playing || player.clip !== clip) return;
      if (player.frame >= clip.frameTimes.length - 1) return pause();
      const wait = (clip.frameTimes[player.frame + 1] - clip.frameTimes[player.frame]) / Number($('speed').value);
      player.timer = setTimeout(() => {
        show(player.frame + 1);
        next();
      }, wait);
    };
    next();
  }

  function renderMarks() {
    const { clip } = player;
    for (const button of $('counters').querySelectorAll('button')) {
      const count = player.marks.filter((m) => m.counter === button.dataset.counter && m.kind === button.dataset.kind).length;
      button.querySelector('.count').textContent = String(count);
    }
    const names = new Map(clip.counters.map((c) => [`${c.kind} ${c.counter}`, `${c.name} ${KIND_WORDS[c.kind]}`]));
    $('marks').replaceChildren(...player.marks.map((mark, i) => {
      const item = document.createElement('li');
      item.textContent = `${names.get(`${mark.kind} ${mark.counter}`)} at ${offset(mark.at - clip.frameTimes[0])} `;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.title = 'remove this count';
      remove.addEventListener('click', () => {
        player.marks.splice(i, 1);
        renderMarks();
      });
      item.appendChild(remove);
      return item;
    }));
  }

  function tally(counter) {
    player.marks.push({ counter: counter.counter, kind: counter.kind, at: player.clip.frameTimes[player.frame] });
    player.marks.sort((a, b) => a.at - b.at);
    renderMarks();
  }

  async function openClip(id) {
    pause();
    const clip = await call(`/clips/${encodeURIComponent(id)}`);
    if (clip.state !== 'ready') throw new Error(`clip ${id} is ${clip.state}${clip.note ? `: ${clip.note}` : ''}`);
    Object.assign(player, { clip, frame: 0, images: new Map(), marks: [] });
    canvas.width = Math.min(960, clip.width);
    canvas.height = Math.round((canvas.width * clip.height) / clip.width);
    $('clip-name').textContent = `${clip.cameraId}, ${clock(clip.startedAt)}`;
    $('position').max = String(clip.frameTimes.length - 1);
    $('result').hidden = true;
    $('submit-status').textContent = '';
    $('counters').replaceChildren(...clip.counters.map((counter, i) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'counter';
      button.dataset.counter = counter.counter;
      button.dataset.kind = counter.kind;
      button.innerHTML = `<span class="name"></span> <span class="count">0</span>${i < 9 ? ` <kbd>${i + 1}</kbd>` : ''}`;
      button.querySelector('.name').textContent = `${counter.name} ${KIND_WORDS[counter.kind]}`;
      button.addEventListener('click', () => tally(counter));
      return button;
    }));
    if (clip.counters.length === 0) $('counters').textContent = 'This clip has no lines or zones to audit.';
    renderMarks();
    $('player').hidden = false;
    show(0);
    $('player').scrollIntoView();
  }

  $('play').addEventListener('click', () => (player.playing ? pause() : play()));
  $('back').addEventListener('click', () => (pause(), show(player.frame - 1)));
  $('forward').addEventListener('click', () => (pause(), show(player.frame + 1)));
  $('position').addEventListener('input', () => (pause(), show(Number($('position').value))));
  document.addEventListener('keydown', (event) => {
    if (!player.clip || $('player').hidden || event.target.matches('input, select, textarea')) return;
    if (event.key === ' ') (player.playing ? pause() : play());
    else if (event.key === 'ArrowLeft') (pause(), show(player.frame - 1));
    else if (event.key === 'ArrowRight') (pause(), show(player.frame + 1));
    else if (/^[1-9]$/.test(event.key) && player.clip.counters[Number(event.key) - 1]) tally(player.clip.counters[Number(event.key) - 1]);
    else return;
    event.preventDefault();
  });

  $('submit').addEventListener('click', async () => {
    const { clip } = player;
    try {
      const audit = await call(`/clips/${encodeURIComponent(clip.id)}/audits`, { method: 'POST', body: { auditor: $('auditor').value, tally: player.marks } });
      const names = new Map(clip.counters.map((c) => [`${c.kind} ${c.counter}`, `${c.name} ${KIND_WORDS[c.kind]}`]));
      const body = $('result').tBodies[0];
      body.replaceChildren();
      for (const score of [...audit.score.counters, { ...audit.score.total, total: true }]) {
        const row = body.insertRow();
        if (score.total) row.className = 'total';
        cell(row, score.total ? 'All counters' : names.get(`${score.kind} ${score.counter}`));
        for (const value of [score.truth, score.counted, score.missed, score.extra]) cell(row, String(value));
        cell(row, percent(score.netError));
        cell(row, percent(score.grossError));
      }
      $('result').hidden = false;
      $('submit-status').textContent = `audit ${audit.id} kept`;
      await Promise.all([loadHistory(), loadClips()]);
    } catch (err) {
      $('submit-status').textContent = err.message;
    }
  });

  await Promise.all([loadCameras(), loadClips(), loadHistory()]);
  // retail-analytics audit --record links to a clip as audit.html#clip=ID.
  async function openLinked() {
    const linked = new URLSearchParams(location.hash.slice(1)).get('clip');
    if (linked) await openClip(linked).catch((err) => ($('record-status').textContent = err.message));
  }
  window.addEventListener('hashchange', openLinked);
  await openLinked();
})();
