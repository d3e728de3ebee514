/* hotpath dashboard page: plain JS, no build step. Reads the SSE stream (or, in an exported
   snapshot, the embedded state) and draws uPlot charts, the routes table, alerts and
   recommendations. Every figure in a frame is per tick, so rates are counts / dt. */
;(() => {
  const base = document.documentElement.dataset.base || ''
  const snapshot = window.HOTPATH_SNAPSHOT
  const $ = (id) => document.getElementById(id)
  const COLORS = ['#7aa2ff', '#4cc38a', '#f5b942', '#ff5c5c', '#c792ea', '#5ad4e6', '#ff9e64', '#9ece6a']
  const MB = 1024 * 1024

  let hello = null
  const ticks = []
  let capacity = 900
  let selected = null
  const instances = new Set()
  const alertLog = []
  const recs = new Map()
  const tables = new Map()

  const compact = (v) => {
    if (v === null || v === undefined) return ''
    const a = Math.abs(v)
    if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`
    if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
    return String(+v.toFixed(2))
  }
  const rate = (n, f) => (f.dt > 0 ? n / f.dt : 0)
  const pct = (a, b) => (b > 0 ? (100 * a) / b : null)
  const r2 = (v) => (v === null || v === undefined ? null : Math.round(v * 100) / 100)

  // each chart: what to draw from one frame (series name -> value, null for a gap)
  const builtIn = [
    {
      id: 'throughput',
      title: 'Throughput (req/s)',
      values(f) {
        const out = { total: rate(f.http.n, f) }
        for (const [cls, n] of Object.entries(f.http.status)) out[cls] = rate(n, f)
        return out
      },
    },
    {
      id: 'latency',
      title: 'Latency, all routes (ms)',
      values(f) {
        const none = f.http.n === 0
        return { p50: none ? null : f.http.p50, p95: none ? null : f.http.p95, p99: none ? null : f.http.p99 }
      },
    },
    {
      id: 'errors',
      title: 'Error rate (% of requests)',
      values(f) {
        return {
          '5xx %': pct(f.http.status['5xx'] || 0, f.http.n),
          '4xx %': pct(f.http.status['4xx'] || 0, f.http.n),
        }
      },
    },
    {
      id: 'refusals',
      title: 'Refused (/s)',
      values: (f) => ({ shed: rate(f.shed, f), 'rate-limited': rate(f.rateLimited, f) }),
    },
    {
      id: 'loop',
      title: 'Event loop',
      values: (f) => ({
        'max delay ms': f.loop.maxMs,
        'mean delay ms': f.loop.meanMs,
        'ELU %': f.loop.elu * 100,
      }),
    },
    {
      id: 'memory',
      title: 'Memory (MB) and GC',
      values: (f) => ({
        'heap used': f.mem.heapUsed / MB,
        'heap total': f.mem.heapTotal / MB,
        rss: f.mem.rss / MB,
        'GC ms/s': rate(f.gc.ms, f),
      }),
    },
    {
      id: 'cache',
      title: 'Cache hit ratio per tier (%)',
      values(f) {
        const out = {}
        for (const [k, c] of Object.entries(f.cache)) out[k] = pct(c.hits, c.hits + c.misses)
        return out
      },
    },
    {
      id: 'ext',
      title: 'Load test (streamed in)',
      optional: true,
      values(f) {
        const out = {}
        for (const [src, fig] of Object.entries(f.ext || {}))
          for (const [k, v] of Object.entries(fig)) out[`${src} ${k}`] = v
        return out
      },
    },
  ]

  function chartDefs() {
    const defs = builtIn.slice()
    for (const p of hello?.panels || []) {
      defs.push({
        id: `panel-${p.id}`,
        title: p.title + (p.unit ? ` (${p.unit})` : ''),
        values: (f) => f.panels?.[p.id] || {},
      })
    }
    return defs
  }

  // --- charts -----------------------------------------------------------------------------
  const charts = new Map()

  function chartFor(def) {
    let c = charts.get(def.id)
    if (c) return c
    const el = document.createElement('div')
    el.className = 'chart'
    el.id = `chart-${def.id}`
    const h = document.createElement('h3')
    h.textContent = def.title
    el.appendChild(h)
    const body = document.createElement('div')
    el.appendChild(body)
    if (def.optional) el.hidden = true
    $('charts').appendChild(el)
    c = { def, el, body, names: [], t: [], cols: [], plot: null, dirty: true }
    charts.set(def.id, c)
    return c
  }

  function push(c, t, values) {
    for (const name of Object.keys(values)) {
      if (c.names.indexOf(name) < 0) {
        c.names.push(name)
        c.cols.push(new Array(c.t.length).fill(null))
        c.dirty = true
      }
    }
    c.t.push(t / 1000)
    for (let i = 0; i < c.names.length; i++) {
      const v = values[c.names[i]]
      c.cols[i].push(v === undefined || v === null || !Number.isFinite(v) ? null : r2(v))
    }
    if (c.t.length > capacity) {
      const drop = c.t.length - capacity
      c.t.splice(0, drop)
      for (const col of c.cols) col.splice(0, drop)
    }
  }

  function draw(c) {
    if (c.def.optional) c.el.hidden = c.names.length === 0
    if (c.names.length === 0) {
      c.body.textContent = 'nothing reported yet'
      c.body.className = 'muted'
      return
    }
    if (!c.plot) c.body.textContent = ''
    // what the chart shows last, readable from outside (the end-to-end test, a curious user)
    const last = {}
    for (let i = 0; i < c.names.length; i++) last[c.names[i]] = c.cols[i][c.cols[i].length - 1]
    c.el.dataset.points = String(c.t.length)
    c.el.dataset.last = JSON.stringify(last)
    const data = [c.t].concat(c.cols)
    if (c.plot && !c.dirty) {
      c.plot.setData(data)
      return
    }
    if (c.plot) c.plot.destroy()
    c.dirty = false
    const width = Math.max(300, c.el.clientWidth - 12)
    c.plot = new uPlot(
      {
        width,
        height: 170,
        series: [{}].concat(
          c.names.map((n, i) => ({
            label: n,
            stroke: COLORS[i % COLORS.length],
            width: 1.5,
            spanGaps: false,
            points: { show: false },
          })),
        ),
        axes: [
          { stroke: '#8a8f98', grid: { stroke: '#262a33' } },
          {
            stroke: '#8a8f98',
            grid: { stroke: '#262a33' },
            size: 50,
            values: (_u, vals) => vals.map(compact),
          },
        ],
        scales: { x: { time: true } },
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      },
      data,
      c.body,
    )
  }

  function resetCharts() {
    for (const c of charts.values()) {
      if (c.plot) c.plot.destroy()
      c.el.remove()
    }
    charts.clear()
  }

  // --- data -------------------------------------------------------------------------------
  function frameOf(tick) {
    for (const f of tick.frames) if (f.instance === selected) return f
    return undefined
  }

  function noteInstances(tick) {
    let added = false
    for (const f of tick.frames) {
      if (!instances.has(f.instance)) {
        instances.add(f.instance)
        added = true
      }
    }
    if (added) {
      // the aggregate is the natural view as soon as there is more than one instance
      if (instances.has('*') && selected === hello?.instance && !userPicked) selected = '*'
      renderInstances()
    }
  }

  let userPicked = false
  function renderInstances() {
    const sel = $('instance')
    sel.textContent = ''
    const ids = Array.from(instances).sort((a, b) => (a === '*' ? -1 : b === '*' ? 1 : a < b ? -1 : 1))
    for (const id of ids) {
      const o = document.createElement('option')
      o.value = id
      o.textContent = id === '*' ? `all ${ids.length - 1} instances` : id
      if (id === selected) o.selected = true
      sel.appendChild(o)
    }
  }

  function apply(tick, redraw) {
    const f = frameOf(tick)
    if (!f) return
    for (const def of chartDefs()) push(chartFor(def), tick.t, def.values(f))
    if (redraw) {
      for (const c of charts.values()) draw(c)
      renderLatest(f)
    }
  }

  function rebuild() {
    resetCharts()
    recent.length = 0
    for (const def of chartDefs()) chartFor(def)
    let last
    for (const tick of ticks) {
      const f = frameOf(tick)
      if (f) {
        apply(tick, false)
        last = tick
        if (ticks[ticks.length - 1].t - tick.t < RECENT_MS) recent.push(f)
      }
    }
    for (const c of charts.values()) draw(c)
    if (last) renderLatest(recent.pop() || frameOf(last))
  }

  function onTick(tick) {
    ticks.push(tick)
    if (ticks.length > capacity) ticks.splice(0, ticks.length - capacity)
    const before = instances.size
    const was = selected
    noteInstances(tick)
    if (selected !== was) {
      rebuild()
      renderTables()
    } else apply(tick, true)
    if (instances.size !== before) renderInstances()
    $('clock').textContent = new Date(tick.t).toLocaleTimeString()
  }

  // --- text panels ------------------------------------------------------------------------
  const fmt = (v, d) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d))

  // the figures in text are over the last few seconds, so they read steadily between bursts
  const RECENT_MS = 5000
  const recent = []

  function quantile(b, q) {
    const bounds = hello.bounds
    let total = 0
    for (const c of b) total += c
    if (total === 0) return null
    const rank = q * total
    let seen = 0
    for (let i = 0; i < b.length; i++) {
      if (seen + b[i] >= rank && b[i] > 0) {
        if (i >= bounds.length) return bounds[bounds.length - 1] * 1000
        const lower = i === 0 ? 0 : bounds[i - 1]
        return (lower + (bounds[i] - lower) * ((rank - seen) / b[i])) * 1000
      }
      seen += b[i]
    }
    return bounds[bounds.length - 1] * 1000
  }

  function sumRoute(into, r) {
    into.n += r.n
    for (const [k, n] of Object.entries(r.status)) into.status[k] = (into.status[k] || 0) + n
    for (let i = 0; i < r.b.length; i++) into.b[i] = (into.b[i] || 0) + r.b[i]
  }

  function renderLatest(f) {
    recent.push(f)
    while (recent.length > 1 && f.t - recent[0].t >= RECENT_MS) recent.shift()
    let dt = 0
    const all = { n: 0, status: {}, b: [] }
    const routes = {}
    for (const x of recent) {
      dt += x.dt
      sumRoute(all, x.http)
      for (const [k, r] of Object.entries(x.http.routes)) {
        routes[k] = routes[k] || { n: 0, status: {}, b: [] }
        sumRoute(routes[k], r)
      }
    }
    const per = { dt }
    $('kpi-rps').textContent = fmt(rate(all.n, per), 1)
    $('kpi-p95').textContent = fmt(quantile(all.b, 0.95), 2)
    $('kpi-err').textContent = fmt(pct(all.status['5xx'] || 0, all.n), 2)
    $('kpi-elu').textContent = fmt(f.loop.elu * 100, 1)
    $('kpi-heap').textContent = fmt(f.mem.heapUsed / MB, 1)
    const tbody = $('routes').tBodies[0]
    tbody.textContent = ''
    const rows = Object.entries(routes).sort((a, b) => b[1].n - a[1].n)
    for (const [route, r] of rows) {
      const tr = document.createElement('tr')
      const cells = [
        route,
        fmt(rate(r.n, per), 1),
        fmt(quantile(r.b, 0.5), 2),
        fmt(quantile(r.b, 0.95), 2),
        fmt(quantile(r.b, 0.99), 2),
        fmt(pct(r.status['5xx'] || 0, r.n), 2),
      ]
      for (const text of cells) {
        const td = document.createElement('td')
        td.textContent = text
        tr.appendChild(td)
      }
      tbody.appendChild(tr)
    }
  }

  function onAlert(a) {
    alertLog.push(a)
    if (alertLog.length > 200) alertLog.shift()
    renderAlerts()
  }

  function renderAlerts() {
    const firing = new Map()
    for (const a of alertLog) {
      const key = `${a.instance}\u0000${a.name}`
      if (a.state === 'firing') firing.set(key, a)
      else firing.delete(key)
    }
    const ul = $('alerts-firing')
    ul.textContent = ''
    for (const a of firing.values()) {
      const li = document.createElement('li')
      li.className = `firing ${a.severity}`
      li.dataset.alert = a.name
      li.textContent = `${a.name} firing on ${a.instance} since ${new Date(a.at).toLocaleTimeString()} (value ${fmt(a.value, 2)})`
      ul.appendChild(li)
    }
    if (firing.size === 0) {
      const li = document.createElement('li')
      li.className = 'none'
      li.textContent = 'none firing'
      ul.appendChild(li)
    }
    $('kpi-alerts').textContent = String(firing.size)
    const log = $('alerts-log')
    log.textContent = ''
    for (const a of alertLog.slice(-30).reverse()) {
      const li = document.createElement('li')
      li.className = a.state
      li.textContent = `${new Date(a.at).toLocaleTimeString()} ${a.name} ${a.state} (${a.instance})`
      log.appendChild(li)
    }
  }

  function onRecs(r) {
    recs.set(r.instance, r)
    const ul = $('recs')
    ul.textContent = ''
    let n = 0
    for (const x of recs.values()) {
      for (const item of x.items) {
        n++
        const li = document.createElement('li')
        li.className = item.severity
        li.dataset.rec = item.id
        const msg = document.createElement('div')
        msg.textContent = (recs.size > 1 ? `[${x.instance}] ` : '') + item.message
        const ev = document.createElement('div')
        ev.className = 'evidence'
        ev.textContent = Object.entries(item.evidence)
          .map(([k, v]) => `${k}: ${typeof v === 'number' ? +v.toPrecision(3) : v}`)
          .join(' · ')
        li.appendChild(msg)
        li.appendChild(ev)
        ul.appendChild(li)
      }
    }
    if (n === 0) {
      const li = document.createElement('li')
      li.textContent = 'no recommendations'
      ul.appendChild(li)
    }
  }

  // tables: the selected instance's rows, or every instance's (with its name) in the aggregate
  function onTable(t) {
    tables.set(`${t.instance}\u0000${t.id}`, t)
    renderTables()
  }

  function renderTables() {
    const root = $('tables')
    root.textContent = ''
    for (const def of hello?.tables || []) {
      const rows = []
      let many = false
      for (const t of tables.values()) {
        if (t.id !== def.id || (selected !== '*' && t.instance !== selected)) continue
        if (selected === '*') many = true
        for (const r of t.rows) rows.push(many ? Object.assign({ instance: t.instance }, r) : r)
      }
      const h = document.createElement('h2')
      h.textContent = def.title
      const table = document.createElement('table')
      table.id = `table-${def.id}`
      const cols = many ? ['instance'].concat(def.columns) : def.columns
      const head = table.createTHead().insertRow()
      for (const c of cols) {
        const th = document.createElement('th')
        th.textContent = c
        head.appendChild(th)
      }
      const body = table.createTBody()
      for (const r of rows) {
        const tr = body.insertRow()
        for (const c of cols) {
          const v = r[c]
          tr.insertCell().textContent =
            v === undefined ? '' : typeof v === 'number' ? String(+v.toPrecision(4)) : v
        }
      }
      root.appendChild(h)
      root.appendChild(table)
    }
  }

  // --- wiring -----------------------------------------------------------------------------
  function onHello(h) {
    const first = hello === null
    const panelsChanged = !first && JSON.stringify(h.panels) !== JSON.stringify(hello.panels)
    hello = h
    capacity = Math.max(1, Math.ceil(h.windowMs / h.intervalMs))
    if (first) {
      selected = h.instance
      instances.add(h.instance)
      renderInstances()
    }
    if (panelsChanged) rebuild()
    renderTables()
  }

  function onHistory(s) {
    for (const tick of s.ticks) {
      ticks.push(tick)
      noteInstances(tick)
    }
    if (ticks.length > capacity) ticks.splice(0, ticks.length - capacity)
    alertLog.length = 0
    for (const a of s.alerts) onAlert(a)
    renderAlerts()
    for (const r of s.recommendations) onRecs(r)
    for (const t of s.tables || []) tables.set(`${t.instance}\u0000${t.id}`, t)
    renderTables()
    rebuild()
  }

  $('instance').addEventListener('change', (e) => {
    selected = e.target.value
    userPicked = true
    rebuild()
    renderTables()
  })

  let resizeTimer
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer)
    resizeTimer = setTimeout(() => {
      for (const c of charts.values())
        if (c.plot) c.plot.setSize({ width: Math.max(300, c.el.clientWidth - 12), height: 170 })
    }, 150)
  })

  if (snapshot) {
    onHello(snapshot.hello)
    onHistory(snapshot)
    $('status').textContent = `snapshot of ${new Date(snapshot.snapshotAt).toLocaleString()}`
    $('export').hidden = true
    return
  }

  const es = new EventSource(`${base}/stream`)
  const on = (name, fn) => es.addEventListener(name, (e) => fn(JSON.parse(e.data)))
  on('hello', onHello)
  on('history', (s) => {
    // a reconnect replays what was missed: ticks already held are skipped (by time: after a
    // server restart the sequence starts again, and the whole new history comes)
    const lastT = ticks.length > 0 ? ticks[ticks.length - 1].t : -1
    if (lastT < 0) return onHistory(s)
    for (const t of s.ticks) if (t.t > lastT) onTick(t)
    alertLog.length = 0
    for (const a of s.alerts) alertLog.push(a)
    renderAlerts()
    for (const r of s.recommendations) onRecs(r)
  })
  on('tick', onTick)
  on('alert', onAlert)
  on('recs', onRecs)
  on('table', onTable)
  es.onopen = () => {
    $('status').textContent = 'live'
    $('status').className = 'status live'
  }
  es.onerror = () => {
    $('status').textContent = 'reconnecting'
    $('status').className = 'status down'
  }
  if (history.replaceState && location.search.indexOf('token=') >= 0)
    history.replaceState(null, '', location.pathname)
})()
