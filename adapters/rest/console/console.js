// jwtcache operator console: polls the JSON endpoints, follows the event
// feed, and draws each cached token's life. Plain JavaScript, no
// dependencies. It never calls the token or bearer endpoints, and asks the
// refresh endpoint to leave the token out of its answer: no token ever
// reaches this page.
'use strict';

(() => {
  const API = '/api/v1/jwt';
  const KEY_STORAGE = 'jwtcache.apiKey';
  const POLL_MS = 1500;          // JSON endpoints
  const TICK_MS = 250;           // moving "now" markers and countdowns
  const RATIO_WINDOW_MS = 10000; // "hit ratio now"
  const SPARK_SPAN_MS = 5 * 60 * 1000;   // the sparkline's longest span
  const SPARK_MIN_SPAN_MS = 60 * 1000;
  const TARGET_RATIO = 0.95;
  const MAX_EVENTS = 200;
  const FEED_RETRY_MS = 3000;
  const STATES = ['fresh', 'due', 'renewing', 'failing', 'expired'];
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const $ = (id) => document.getElementById(id);
  const view = {
    key: sessionStorage.getItem(KEY_STORAGE) || '',
    q: '',
    states: '',           // '' = all, else a comma list
    limit: 50,
    offset: 0,
    matching: 0,
    locked: false,        // the status endpoints want a key we do not have
    skew: 0,              // server clock minus ours, in ms
    samples: [],          // {t, hits, misses} for the hit ratio
    rows: new Map(),      // service -> row {tr, svg parts, data}
    lastEventId: 0,
    events: 0,
  };

  // ---------- HTTP ----------

  function headers(extra) {
    const h = Object.assign({ Accept: 'application/json' }, extra || {});
    if (view.key) h['X-API-Key'] = view.key;
    return h;
  }

  async function getJSON(path) {
    const r = await fetch(path, { headers: headers(), cache: 'no-store', credentials: 'omit' });
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    return { status: r.status, body };
  }

  function statusURL() {
    const p = new URLSearchParams({ limit: String(view.limit), offset: String(view.offset) });
    if (view.q) p.set('q', view.q);
    if (view.states) p.set('state', view.states);
    return API + '/status?' + p.toString();
  }

  // ---------- polling ----------

  let pollTimer = 0;
  let polling = false;

  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const [ready, health, stats, page] = await Promise.all([
        getJSON('/readyz'), getJSON(API + '/health'), getJSON(API + '/statistics'), getJSON(statusURL()),
      ]);
      if (stats.status === 401 || page.status === 401) {
        lock(view.key ? 'The API key was not accepted. Enter a valid key to see the status of this jwtcache.'
          : 'This jwtcache requires an API key (JWT_API_PROTECT_STATUS=true) to show its status.');
        return;
      }
      if (stats.status === 403 || page.status === 403) {
        lock('This API key is limited to some services and may not read the status of all of them.');
        return;
      }
      unlock();
      if (page.status === 400 && page.body) {
        showBanner('Status query refused: ' + page.body.message);
      } else if (page.status !== 200 || stats.status !== 200) {
        showBanner('The status endpoints answered ' + page.status + ' / ' + stats.status + '; retrying.');
      } else {
        hideBanner();
      }
      renderHealth(health, ready);
      if (stats.status === 200 && stats.body) renderStats(stats.body);
      if (page.status === 200 && page.body) renderPage(page.body);
      $('updated').textContent = 'updated ' + clock(Date.now());
    } catch (_) {
      showBanner('Cannot reach jwtcache; retrying.');
    } finally {
      polling = false;
      if (!view.locked) schedulePoll(POLL_MS);
    }
  }

  // ---------- API key ----------

  function lock(reason) {
    view.locked = true;
    $('dash').hidden = true;
    $('health').hidden = true;
    hideBanner();
    clearRows();
    openKeyPanel(reason);
  }

  function unlock() {
    if (!view.locked && !$('dash').hidden) return;
    view.locked = false;
    $('dash').hidden = false;
    $('health').hidden = false;
  }

  function openKeyPanel(reason) {
    $('key-reason').textContent = reason;
    $('key-forget').hidden = !view.key;
    $('keypanel').hidden = false;
    $('key-input').focus();
  }

  function setKey(key) {
    view.key = key;
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    $('key-toggle').textContent = key ? 'API key ✓' : 'API key';
    restartFeed();
  }

  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('key-input').value.trim();
    $('key-input').value = '';
    if (!key) return;
    setKey(key);
    $('keypanel').hidden = true;
    view.locked = false;
    schedulePoll(0);
  });
  $('key-forget').addEventListener('click', () => {
    setKey('');
    $('keypanel').hidden = true;
    view.locked = false;
    schedulePoll(0);
  });
  $('key-toggle').addEventListener('click', () => {
    if ($('keypanel').hidden) openKeyPanel('Enter an API key (JWT_API_KEYS) to use the protected endpoints.');
    else if (!view.locked) $('keypanel').hidden = true;
  });

  // ---------- health and statistics ----------

  function setPill(el, label, status, detail) {
    el.textContent = label + ' ' + (status || '–');
    el.className = 'pill ' + ({ UP: 'up', DEGRADED: 'degraded', DOWN: 'down' }[status] || '');
    el.title = detail || '';
  }

  function renderHealth(health, ready) {
    const h = health.body || {};
    const c = h.components || {};
    setPill($('h-overall'), 'Health', h.status, 'GET /api/v1/jwt/health');
    setPill($('h-store'), 'Store', c.store && c.store.status, c.store && c.store.detail);
    setPill($('h-issuer'), 'Token service', c.tokenService && c.tokenService.status, c.tokenService && c.tokenService.detail);
    const r = ready.body || {};
    const el = $('h-ready');
    el.textContent = r.ready ? 'Replica ready' : 'Replica not ready';
    el.className = 'pill ' + (r.ready ? 'up' : 'down');
    el.title = 'GET /readyz' + (r.detail ? ': ' + r.detail : '');
  }

  const fmtInt = new Intl.NumberFormat('en');
  function setNum(id, n) { $(id).textContent = typeof n === 'number' ? fmtInt.format(n) : '–'; }

  function renderStats(s) {
    setNum('c-hits', s.cacheHits);
    setNum('c-misses', s.cacheMisses);
    setNum('c-calls', s.tokenServiceRequests);
    setNum('c-failures', s.tokenServiceFailures);
    setNum('c-renewals', s.renewals);
    setNum('c-renewal-failures', s.renewalFailures);
    setNum('c-forced', s.forcedRefreshes);
    setNum('c-evictions', s.evictions);
    setNum('c-total', s.totalTokens);
    setNum('c-active', s.activeTokens);
    setNum('c-expired', s.expiredTokens);
    setNum('c-renewing', s.renewingTokens);
    observeSkew(s.timestamp);

    const now = Date.now();
    const last = view.samples[view.samples.length - 1];
    if (last && (s.cacheHits < last.hits || s.cacheMisses < last.misses)) view.samples = []; // restarted
    view.samples.push({ t: now, hits: s.cacheHits || 0, misses: s.cacheMisses || 0 });
    while (view.samples.length > 2 && view.samples[0].t < now - SPARK_SPAN_MS - RATIO_WINDOW_MS) view.samples.shift();

    const r = ratioAt(view.samples.length - 1);
    const big = $('ratio-now');
    if (r === null) {
      big.textContent = '–';
      big.className = 'big';
      $('ratio-note').textContent = 'no requests in the last 10 s';
    } else {
      big.textContent = pct(r);
      big.className = 'big ' + (r >= TARGET_RATIO ? 'good' : 'bad');
      $('ratio-note').textContent = 'last 10 s';
    }
    $('ratio-all').textContent = (s.cacheHits + s.cacheMisses > 0 ? pct(s.hitRatio) : '–') + ' since start';
    drawSpark(now);
  }

  function pct(r) { return (Math.floor(r * 1000) / 10).toFixed(1) + ' %'; }

  // ratioAt is the hit ratio over the RATIO_WINDOW_MS ending at sample i,
  // or null when there was no request in it.
  function ratioAt(i) {
    const end = view.samples[i];
    let j = i;
    while (j > 0 && view.samples[j - 1].t >= end.t - RATIO_WINDOW_MS) j--;
    if (j === i && i > 0) j = i - 1;
    const start = view.samples[j];
    const hits = end.hits - start.hits;
    const misses = end.misses - start.misses;
    if (j === i || hits + misses <= 0) return null;
    return hits / (hits + misses);
  }

  function drawSpark(now) {
    const svg = $('spark');
    const W = 300, H = 56;
    // The span grows with the data, from one minute to SPARK_SPAN_MS.
    const oldest = view.samples.length ? view.samples[0].t : now;
    const span = Math.min(SPARK_SPAN_MS, Math.max(SPARK_MIN_SPAN_MS, Math.ceil((now - oldest) / 60000) * 60000));
    $('spark-span').textContent = 'last ' + span / 60000 + ' min';
    const pts = [];
    let lo = 0.8;
    for (let i = 1; i < view.samples.length; i++) {
      const s = view.samples[i];
      if (s.t < now - span) continue;
      const r = ratioAt(i);
      if (r === null) continue;
      pts.push([s.t, r]);
      lo = Math.min(lo, Math.floor(r * 10) / 10);
    }
    const y = (r) => (1 - (r - lo) / (1 - lo)) * (H - 4) + 2;
    const x = (t) => W - ((now - t) / span) * W;
    svg.replaceChildren();
    svgEl('line', { class: 'target', x1: 0, x2: W, y1: y(TARGET_RATIO), y2: y(TARGET_RATIO) }, svg);
    if (pts.length >= 2) {
      const d = pts.map((p, i) => (i ? 'L' : 'M') + x(p[0]).toFixed(1) + ' ' + y(p[1]).toFixed(1)).join(' ');
      svgEl('path', { class: 'area', d: d + ' L' + x(pts[pts.length - 1][0]).toFixed(1) + ' ' + H + ' L' + x(pts[0][0]).toFixed(1) + ' ' + H + ' Z' }, svg);
      svgEl('path', { class: 'line', d }, svg);
    }
    svg.setAttribute('aria-label', 'Hit ratio over the ' + $('spark-span').textContent + '; scale ' + Math.round(lo * 100) + ' % to 100 %');
  }

  // observeSkew keeps the difference between the server's clock and ours,
  // so that the moving markers agree with the server's numbers. The
  // server's timestamps have whole seconds: only a larger difference
  // counts.
  function observeSkew(ts) {
    const server = Date.parse(ts);
    if (Number.isNaN(server)) return;
    const est = server + 500 - Date.now();
    if (Math.abs(est - view.skew) > 1000) view.skew = est;
  }
  const serverNow = () => Date.now() + view.skew;

  // ---------- services ----------

  function svgEl(tag, attrs, parent) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  }

  function td(cls, parent) {
    const el = document.createElement('td');
    if (cls) el.className = cls;
    parent.appendChild(el);
    return el;
  }

  function newRow(name) {
    const tr = document.createElement('tr');
    tr.dataset.service = name;
    const row = { tr, name, data: null };
    td('c-name', tr).textContent = name;
    tr.firstChild.title = name;
    row.state = document.createElement('span');
    td('c-state', tr).appendChild(row.state);
    const svg = svgEl('svg', { class: 'timeline', viewBox: '0 0 1000 18', preserveAspectRatio: 'none', role: 'img' });
    td('c-tl', tr).appendChild(svg);
    row.svg = svg;
    svgEl('rect', { class: 'track', x: 0, y: 4, width: 1000, height: 10, rx: 2 }, svg);
    row.fresh = svgEl('rect', { class: 'fresh', x: 0, y: 4, height: 10 }, svg);
    row.buffer = svgEl('rect', { class: 'buffer', y: 4, height: 10 }, svg);
    row.elapsed = svgEl('rect', { class: 'elapsed', x: 0, y: 4, height: 10 }, svg);
    row.renew = svgEl('line', { class: 'renew', y1: 0, y2: 18 }, svg);
    row.now = svgEl('line', { class: 'now', y1: 0, y2: 18 }, svg);
    row.title = svgEl('title', {}, svg);
    row.renewsIn = td('c-num renews-in', tr);
    row.expiresIn = td('c-num expires-in', tr);
    row.lastRenewal = td('c-num last-renewal', tr);
    row.failures = td('c-num failures', tr);
    const act = td('c-act', tr);
    const refresh = document.createElement('button');
    refresh.type = 'button';
    refresh.className = 'refresh';
    refresh.textContent = 'Refresh';
    refresh.title = 'POST /api/v1/jwt/refresh/' + name + ': a new token now';
    refresh.addEventListener('click', () => refreshService(name, refresh));
    const evict = document.createElement('button');
    evict.type = 'button';
    evict.className = 'evict danger';
    evict.textContent = 'Evict';
    evict.title = 'DELETE /api/v1/jwt/evict/' + name + ': remove the token everywhere';
    evict.addEventListener('click', () => evictService(name, evict));
    act.append(refresh, evict);
    return row;
  }

  function clearRows() {
    view.rows.clear();
    $('rows').replaceChildren();
  }

  function renderPage(page) {
    view.matching = page.matchingTokens || 0;
    renderStateFilter(page.states || {}, page.totalTokens || 0);
    const tbody = $('rows');
    const seen = new Set();
    let prev = null;
    for (const [name, t] of Object.entries(page.tokens || {})) {
      seen.add(name);
      let row = view.rows.get(name);
      if (!row) {
        row = newRow(name);
        view.rows.set(name, row);
      }
      const renewed = row.data && row.data.issuedAt !== t.issuedAt;
      row.data = {
        issued: Date.parse(t.issuedAt),
        cacheExpires: Date.parse(t.cacheExpiresAt),
        expires: Date.parse(t.expiresAt),
        renewAt: t.renewAt ? Date.parse(t.renewAt) : Date.parse(t.cacheExpiresAt),
        planned: Boolean(t.renewAt),
        lastRenewed: t.lastRenewedAt ? Date.parse(t.lastRenewedAt) : null,
        issuedAt: t.issuedAt,
        state: t.state || (t.isExpired ? 'expired' : t.isRenewing ? 'renewing' : t.isCacheExpired ? 'due' : 'fresh'),
        failures: t.consecutiveFailures || 0,
      };
      row.tr.dataset.issuedAt = t.issuedAt;
      row.tr.className = row.data.state;
      if (renewed) {
        row.tr.classList.add('flash');
        setTimeout(() => row.tr.classList.remove('flash'), 1700);
      }
      row.state.textContent = row.data.state;
      row.state.className = 'state ' + row.data.state;
      row.failures.textContent = String(row.data.failures);
      row.failures.className = 'c-num failures' + (row.data.failures > 0 ? ' some' : '');
      placeStatic(row);
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== row.tr) tbody.insertBefore(row.tr, want);
      prev = row.tr;
    }
    for (const [name, row] of view.rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        view.rows.delete(name);
      }
    }
    tick();
    const empty = $('empty');
    empty.hidden = seen.size > 0;
    if (!seen.size) {
      empty.textContent = page.totalTokens ? 'No cached token matches the filter.'
        : 'No token is cached yet. Services appear here once a token has been requested for them.';
    }
    const first = seen.size ? view.offset + 1 : 0;
    $('page-info').textContent = fmtInt.format(first) + '–' + fmtInt.format(view.offset + seen.size) + ' of ' +
      fmtInt.format(view.matching) + (view.q || view.states ? ' matching' : '');
    $('prev').disabled = view.offset === 0;
    $('next').disabled = view.offset + view.limit >= view.matching;
    if (!seen.size && view.offset > 0 && view.offset >= view.matching) {
      view.offset = Math.max(0, Math.floor((view.matching - 1) / view.limit) * view.limit);
      schedulePoll(0);
    }
  }

  const pos = (d, t) => Math.max(0, Math.min(1000, ((t - d.issued) / (d.expires - d.issued)) * 1000));

  function placeStatic(row) {
    const d = row.data;
    const fx = pos(d, d.cacheExpires);
    row.fresh.setAttribute('width', fx.toFixed(1));
    row.buffer.setAttribute('x', fx.toFixed(1));
    row.buffer.setAttribute('width', (1000 - fx).toFixed(1));
    const rx = pos(d, d.renewAt).toFixed(1);
    row.renew.setAttribute('x1', rx);
    row.renew.setAttribute('x2', rx);
    row.title.textContent = 'issued ' + clock(d.issued) + (d.planned ? ' · renewal planned ' + clock(d.renewAt) : '') +
      ' · cache expires ' + clock(d.cacheExpires) + ' · expires ' + clock(d.expires);
  }

  // tick moves every row's "now" marker and its countdowns.
  function tick() {
    const now = serverNow();
    for (const row of view.rows.values()) {
      const d = row.data;
      if (!d) continue;
      const nx = pos(d, now).toFixed(1);
      row.now.setAttribute('x1', nx);
      row.now.setAttribute('x2', nx);
      row.elapsed.setAttribute('width', nx);
      row.tr.dataset.now = nx;
      if (d.state === 'renewing') row.renewsIn.textContent = 'renewing';
      else if (d.state === 'failing') row.renewsIn.textContent = 'retrying';
      else if (d.state === 'expired') row.renewsIn.textContent = '–';
      else row.renewsIn.textContent = d.renewAt > now ? duration(d.renewAt - now) : 'now';
      row.expiresIn.textContent = d.expires > now ? duration(d.expires - now) : 'expired';
      row.lastRenewal.textContent = d.lastRenewed ? duration(now - d.lastRenewed) + ' ago' : '–';
      row.lastRenewal.title = d.lastRenewed ? new Date(d.lastRenewed).toLocaleString() : 'not renewed by this replica';
    }
  }

  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' m ' + String(s % 60).padStart(2, '0') + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + String(Math.floor(s / 60) % 60).padStart(2, '0') + ' m';
    return Math.floor(s / 86400) + ' d ' + Math.floor(s / 3600) % 24 + ' h';
  }

  // clock is the local time of ms as 24-hour HH:MM:SS, the same in every
  // locale, so that columns line up.
  function clock(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  // ---------- filter and paging ----------

  function renderStateFilter(counts, total) {
    const box = $('state-filter');
    if (!box.childElementCount) {
      for (const s of [''].concat(STATES)) {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.state = s;
        const label = document.createElement('span');
        label.textContent = s || 'all';
        const count = document.createElement('span');
        count.className = 'count';
        b.append(label, count);
        b.addEventListener('click', () => {
          view.states = s;
          view.offset = 0;
          schedulePoll(0);
          markStateFilter();
        });
        box.appendChild(b);
      }
    }
    for (const b of box.children) {
      const s = b.dataset.state;
      b.lastChild.textContent = fmtInt.format(s ? counts[s] || 0 : total);
    }
    markStateFilter();
  }

  function markStateFilter() {
    for (const b of $('state-filter').children) b.classList.toggle('on', b.dataset.state === view.states);
  }

  let filterTimer = 0;
  $('filter').addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      view.q = $('filter').value.trim().toLowerCase();
      view.offset = 0;
      schedulePoll(0);
    }, 250);
  });
  $('prev').addEventListener('click', () => {
    view.offset = Math.max(0, view.offset - view.limit);
    schedulePoll(0);
  });
  $('next').addEventListener('click', () => {
    if (view.offset + view.limit < view.matching) view.offset += view.limit;
    schedulePoll(0);
  });
  $('page-size').addEventListener('change', () => {
    view.limit = Number($('page-size').value) || 50;
    view.offset = 0;
    schedulePoll(0);
  });

  // ---------- actions ----------

  let toastTimer = 0;
  function toast(msg, error) {
    const t = $('toast');
    t.textContent = msg;
    t.className = 'toast' + (error ? ' error' : '');
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function showBanner(msg) {
    $('banner').textContent = msg;
    $('banner').hidden = false;
  }
  function hideBanner() { $('banner').hidden = true; }

  async function act(name, button, method, path, done) {
    button.disabled = true;
    const keyUsed = view.key;
    try {
      const r = await fetch(path, { method, headers: headers(), cache: 'no-store', credentials: 'omit' });
      let body = null;
      try { body = await r.json(); } catch (_) { body = null; }
      if (r.status === 401 && keyUsed !== view.key) {
        // Sent with the key that was replaced meanwhile: nothing to ask.
        toast('Refused: sent before the new API key was set; try again.', true);
      } else if (r.status === 401) {
        toast('Refused: an API key is required for this action.', true);
        openKeyPanel(view.key ? 'The API key was not accepted. Enter a valid key to refresh or evict tokens.'
          : 'Refreshing and evicting tokens needs an API key (JWT_API_KEYS).');
      } else if (r.status === 403) {
        toast('Refused: this API key may not be used for ' + name + '.', true);
      } else if (!r.ok) {
        toast(name + ': ' + ((body && body.message) || 'failed with status ' + r.status), true);
      } else {
        toast(done(body));
      }
    } catch (_) {
      toast('Cannot reach jwtcache.', true);
    } finally {
      button.disabled = false;
      schedulePoll(0);
    }
  }

  function refreshService(name, button) {
    // includeToken=false: the answer has the new token's times, never the token.
    act(name, button, 'POST', API + '/refresh/' + encodeURIComponent(name) + '?includeToken=false',
      (b) => name + ' refreshed; expires ' + clock(Date.parse(b.expiresAt)) + '.');
  }

  const confirming = new WeakMap();
  function evictService(name, button) {
    if (!confirming.has(button)) {
      button.textContent = 'Confirm';
      button.classList.add('confirm');
      confirming.set(button, setTimeout(() => {
        confirming.delete(button);
        button.textContent = 'Evict';
        button.classList.remove('confirm');
      }, 3000));
      return;
    }
    clearTimeout(confirming.get(button));
    confirming.delete(button);
    button.textContent = 'Evict';
    button.classList.remove('confirm');
    act(name, button, 'DELETE', API + '/evict/' + encodeURIComponent(name),
      (b) => b.evicted ? name + ' evicted.' : name + ': nothing was cached.');
  }

  // ---------- event feed ----------

  let feedAbort = null;

  function setFeed(label, cls) {
    const el = $('feed-state');
    el.textContent = label;
    el.className = 'pill small ' + (cls || '');
  }

  function restartFeed() {
    if (feedAbort) feedAbort.abort();
  }

  async function follow() {
    for (;;) {
      const abort = new AbortController();
      feedAbort = abort;
      try {
        const h = headers({ Accept: 'text/event-stream' });
        if (view.lastEventId) h['Last-Event-ID'] = String(view.lastEventId);
        const r = await fetch(API + '/events', { headers: h, cache: 'no-store', credentials: 'omit', signal: abort.signal });
        if (r.status === 401 || r.status === 403) {
          setFeed('feed needs a key', 'off');
          await waitFor(abort.signal, 0); // until the key changes
          continue;
        }
        if (!r.ok || !r.body) throw new Error('status ' + r.status);
        setFeed('live', 'live');
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            onBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        }
      } catch (_) {
        // network error, or aborted for a new key: reconnect below
      }
      if (!abort.signal.aborted) {
        setFeed('reconnecting', 'off');
        await waitFor(abort.signal, FEED_RETRY_MS);
      }
    }
  }

  // waitFor resolves after ms (0: never) or when signal aborts.
  function waitFor(signal, ms) {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const t = ms ? setTimeout(resolve, ms) : 0;
      signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  function onBlock(block) {
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('data:')) data += line.slice(line.startsWith('data: ') ? 6 : 5);
    }
    if (!data) return;
    let e;
    try { e = JSON.parse(data); } catch (_) { return; }
    if (typeof e.id === 'number') view.lastEventId = e.id;
    addEvent(e);
  }

  const EVENT_TEXT = {
    obtained: 'obtained', renewed: 'renewed', renewal_failed: 'renewal failed', refreshed: 'refreshed',
    refresh_failed: 'refresh failed', evicted: 'evicted', refused: 'refused',
  };

  function addEvent(e) {
    const li = document.createElement('li');
    li.className = 'event ' + e.type;
    li.dataset.type = e.type;
    li.dataset.service = e.serviceName;
    const at = Date.parse(e.at);
    const time = document.createElement('time');
    time.dateTime = e.at;
    time.textContent = Number.isNaN(at) ? '' : clock(at);
    const what = document.createElement('div');
    what.className = 'what';
    const type = document.createElement('span');
    type.className = 'etype ' + e.type;
    type.textContent = (EVENT_TEXT[e.type] || e.type) + (e.consecutiveFailures > 1 ? ' ×' + e.consecutiveFailures : '');
    const svc = document.createElement('span');
    svc.className = 'svc';
    svc.textContent = e.serviceName;
    what.append(type, svc);
    li.append(time, what);
    const detail = [];
    if (e.expiresAt) detail.push((e.type === 'evicted' ? 'was valid until ' : 'valid until ') + clock(Date.parse(e.expiresAt)));
    if (e.failure) detail.push(e.failure.replace('_', ' ') + (e.tokenServiceError ? ' (' + e.tokenServiceError + ')' : ''));
    if (detail.length) {
      const d = document.createElement('div');
      d.className = 'detail';
      d.textContent = detail.join(' · ');
      li.appendChild(d);
    }
    const list = $('events');
    list.insertBefore(li, list.firstChild);
    while (list.childElementCount > MAX_EVENTS) list.lastChild.remove();
    $('events-empty').hidden = true;
  }

  // ---------- start ----------

  $('key-toggle').textContent = view.key ? 'API key ✓' : 'API key';
  setInterval(tick, TICK_MS);
  poll();
  follow();
})();
