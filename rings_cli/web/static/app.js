// Rings dashboard. Every string from the logs (paths, sources, campaigns, 404 paths) goes in as textContent,
// never as HTML. Charts are SVG drawn here: no library, no CDN.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = String(text);
  return e;
}

const num = (n) => Number(n || 0).toLocaleString("en-US");
const pct = (x) => (Number(x || 0) * 100).toFixed(1) + "%";
function dur(s) {
  s = Math.round(Number(s || 0));
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60), r = s % 60;
  return m < 60 ? `${m}m ${String(r).padStart(2, "0")}s` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}
function bytes(n) {
  n = Number(n || 0);
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}
function short(n) {
  n = Number(n || 0);
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + "M";
  if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + "k";
  return String(n);
}

// ---- theme -------------------------------------------------------------------------------------
function applyTheme(t) {
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}
applyTheme(localStorage.getItem("rings-theme"));

// ---- state -------------------------------------------------------------------------------------
const page = {
  tenant: null,           // from the path: "/site/alice.example" (or "/alice.example") -> "alice.example"; "_all" is every site
  report: null,
  ws: null,
  retry: 1000,
  feed: [],
  compare: null,          // "previous" while the compare toggle is on
};

function apiPath(tenant) { return "/api/" + encodeURIComponent(tenant); }
// A tenant's dashboard: under /site/ for every name (`/api`, `/login`... are the server's own paths).
function sitePath(tenant) { return "/site/" + encodeURIComponent(tenant); }

async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || ("HTTP " + r.status));
  return body;
}

// ---- charts ------------------------------------------------------------------------------------
function daysBetween(start, end) {
  const out = [];
  const d = new Date(start + "T00:00:00Z"), last = new Date(end + "T00:00:00Z");
  while (d <= last && out.length < 3700) { out.push(d.toISOString().slice(0, 10)); d.setUTCDate(d.getUTCDate() + 1); }
  return out;
}

function niceMax(v) {
  if (v <= 4) return 4;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// bars: [{label, value, title}], line: optional [values] drawn over the bars
function barChart(container, bars, line, opts) {
  container.replaceChildren();
  const W = Math.max(280, Math.round(container.clientWidth || 760)), H = opts.height || 200, L = 40, R = 8, T = 10, B = 24;
  const max = niceMax(Math.max(1, ...bars.map((b) => b.value), ...(line || [0])));
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.label });
  const iw = W - L - R, ih = H - T - B;
  for (let i = 0; i <= 4; i++) {
    const y = T + ih - (ih * i) / 4;
    s.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid-line" }));
    s.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end", class: "axis" }, short((max * i) / 4)));
  }
  const n = Math.max(1, bars.length), step = iw / n, bw = Math.max(1, Math.min(56, step * 0.72));
  bars.forEach((b, i) => {
    const h = (ih * b.value) / max;
    const r = svg("rect", { x: L + i * step + (step - bw) / 2, y: T + ih - h, width: bw, height: Math.max(0, h), class: "bar" });
    r.append(svg("title", {}, b.title));
    s.append(r);
  });
  if (line && line.length > 1) {
    const pts = line.map((v, i) => `${(L + i * step + step / 2).toFixed(1)},${(T + ih - (ih * v) / max).toFixed(1)}`);
    s.append(svg("polyline", { points: pts.join(" "), class: "line" }));
    if (line.length <= 62) pts.forEach((p) => { const [x, y] = p.split(","); s.append(svg("circle", { cx: x, cy: y, r: 3, class: "dot" })); });
  } else if (line && line.length === 1) {
    s.append(svg("circle", { cx: L + step / 2, cy: T + ih - (ih * line[0]) / max, r: 3, class: "dot" }));
  }
  const widest = Math.max(2, ...bars.map((b) => String(b.label).length));
  const room = Math.floor(iw / (widest * 6.6 + 14));  // labels never overlap
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.min(opts.ticks || 8, room))));
  bars.forEach((b, i) => {
    if (i % every === 0) {
      s.append(svg("text", { x: L + i * step + step / 2, y: H - 6, "text-anchor": "middle", class: "axis" }, b.label));
    }
  });
  container.append(s);
  if (opts.legend) {
    const lg = el("div", { class: "legend" });
    lg.append(el("span", { class: "k-bar" }, opts.legend[0]));
    if (line) lg.append(el("span", { class: "k-line" }, opts.legend[1]));
    container.append(lg);
  }
}

// A long range's days as weeks or months: the rule of rings_cli/query/periods.py (the table and HTML
// reports), so every view of one range bins it alike. Up to DAILY_DAYS day rows, a bar a day; up to
// WEEKLY_DAYS, a bar a week (from Monday; the first from the range's first day); past it, a month.
const DAILY_DAYS = 60, WEEKLY_DAYS = 731;
function periods(days) {
  const kind = days.length <= DAILY_DAYS ? "day" : days.length <= WEEKLY_DAYS ? "week" : "month";
  if (kind === "day") return { kind, rows: days };
  const groups = new Map();
  for (const d of days) {
    let key = d.date.slice(0, 7);
    if (kind === "week") {
      const t = new Date(d.date + "T00:00:00Z");
      t.setUTCDate(t.getUTCDate() - ((t.getUTCDay() + 6) % 7));  // back to Monday
      key = t.toISOString().slice(0, 10);
      if (key < days[0].date) key = days[0].date;
    }
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(d);
  }
  const rows = [];
  for (const [key, group] of groups) {
    const sum = (k) => group.reduce((a, d) => a + Number(d[k] || 0), 0);
    const sessions = sum("sessions");
    const weighted = (k) => group.reduce((a, d) => a + Number(d[k] || 0) * Number(d.sessions || 0), 0);
    rows.push({
      date: key, requests: sum("requests"), page_views: sum("page_views"), unique_visitors: sum("unique_visitors"),
      bytes: sum("bytes"), sessions, bounce_rate: sessions ? weighted("bounce_rate") / sessions : 0,
      avg_session_duration: sessions ? weighted("avg_session_duration") / sessions : 0,
    });
  }
  return { kind, rows };
}

function drawDaily(r) {
  const span = daysBetween(r.start, r.end);
  let shown;
  if (span.length <= DAILY_DAYS) {  // a short range: every day of it, zeros included
    const byDate = new Map(r.days.map((d) => [d.date, d]));
    shown = { kind: "day", rows: span.map((d) => byDate.get(d) || { date: d, page_views: 0, unique_visitors: 0 }) };
  } else {
    shown = periods(r.days);
  }
  const { kind, rows } = shown;
  const what = { day: "day", week: "week", month: "month" }[kind];
  $("daily-title").textContent = `Page views and visitors by ${what}`;
  let year = null;
  const bars = rows.map((d) => {
    // Weeks and months carry their year; days show it where it changes (and on the first).
    let label = kind === "month" ? d.date : kind === "week" ? d.date : d.date.slice(5);
    if (kind === "day" && d.date.slice(0, 4) !== year) { label = d.date; year = d.date.slice(0, 4); }
    const when = kind === "week" ? `week from ${d.date}` : d.date;
    return { label, value: d.page_views, title: `${when}: ${num(d.page_views)} page views, ${num(d.unique_visitors)} visitors` };
  });
  const box = $("daily-chart");
  box.dataset.kind = kind;
  box.dataset.bars = String(bars.length);
  barChart(box, bars, rows.map((d) => d.unique_visitors),
    { label: `Page views by ${what}`, legend: ["page views", "unique visitors"], ticks: 10 });
}

// Days and hours are each tenant's own (rings.toml time zones); the report says whose.
function zoneLabel(r) {
  const zone = r.timezone || "UTC";
  return zone === "per tenant" ? "each site's time zone" : zone;
}

function drawHourly(r) {
  const box = $("hourly-chart");
  if (r.hours_omitted) { box.replaceChildren(el("p", { class: "empty" }, r.hours_omitted)); return; }
  const sums = new Array(24).fill(0);
  for (const h of r.hours) sums[h.hour] += h.page_views;
  const bars = sums.map((v, h) => ({ label: String(h).padStart(2, "0"), value: v, title: `${String(h).padStart(2, "0")}:00 ${zoneLabel(r)}: ${num(v)} page views` }));
  barChart(box, bars, null, { label: "Page views by hour", height: 170, ticks: 12 });
}

// ---- tables ------------------------------------------------------------------------------------
// The change against the compared period, as the table report writes it: +12%, −5%, new, –.
function change(now, before) {
  now = Number(now || 0); before = Number(before || 0);
  if (!before) return now ? { text: "new", cls: "up" } : { text: "–", cls: "" };
  const f = (now - before) / before, p = Math.round(f * 100);
  return { text: (p > 0 ? "+" : p < 0 ? "−" : "±") + Math.abs(p) + "%", cls: p > 0 ? "up" : p < 0 ? "down" : "" };
}

// cols: [{key, label, fmt, bar}] ; the first column is the text (whole, wrapped), with a proportional
// fill bar. With `previous` (the compared period's rows, same order) a change column follows the second.
function table(container, cols, rows, emptyText, link, previous) {
  container.replaceChildren();
  if (!rows || rows.length === 0) { container.append(el("p", { class: "empty" }, emptyText || "None in this range")); return; }
  if (previous) {
    const key = cols[1].key;
    cols = [cols[0], cols[1], { key: "_change", label: "Change", change: key }, ...cols.slice(2)];
  }
  const t = el("table", { class: "cols-" + cols.length }), head = el("tr");
  for (const c of cols) head.append(el("th", {}, c.label));
  const thead = el("thead"); thead.append(head); t.append(thead);
  const barKey = cols[1].key, max = Math.max(1, ...rows.map((r) => Number(r[barKey]) || 0));
  const tb = el("tbody");
  rows.forEach((r, n) => {
    const tr = el("tr");
    cols.forEach((c, i) => {
      if (c.change) {
        const ch = change(r[c.change], previous[n] ? previous[n][c.change] : 0);
        tr.append(el("td", { class: "chg " + ch.cls }, ch.text));
        return;
      }
      const v = c.fmt ? c.fmt(r[c.key], r) : r[c.key];
      if (i === 0) {
        const td = el("td", { title: String(v) });
        const fill = el("span", { class: "fill" });
        fill.style.width = ((100 * (Number(r[barKey]) || 0)) / max).toFixed(1) + "%";
        const txt = link ? el("a", { class: "txt", href: link(r) }, v) : el("span", { class: "txt" }, v);
        td.append(fill, txt);
        tr.append(td);
      } else {
        tr.append(el("td", {}, v));
      }
    });
    tb.append(tr);
  });
  t.append(tb);
  container.append(t);
}

const TOTALS = [
  ["page_views", "Page views", num], ["unique_visitors", "Unique visitors", num],
  ["sessions", "Sessions", num], ["bounce_rate", "Bounce rate", pct],
  ["avg_session_duration", "Avg. session", dur], ["requests", "Requests", num],
  ["bot_requests", "Bot requests", num], ["bytes", "Bytes sent", bytes],
];

// A bad change is red: a rising bounce rate, more bot requests.
const WORSE_WHEN_UP = new Set(["bounce_rate", "bot_requests"]);

function render() {
  const r = page.report;
  if (!r) return;
  const cmp = r.compare || null;
  $("title").textContent = page.tenant === "_all" ? "All sites" : page.tenant;
  const zone = ` (${zoneLabel(r)})`;
  let period = r.start === r.end ? r.start + zone : `${r.start} – ${r.end}${zone}`;
  if (cmp) period += `, compared with ${cmp.start} – ${cmp.end}`;
  $("period").textContent = period;
  $("hour-zone").textContent = `(${zoneLabel(r)})`;
  for (const [id, v] of [["start", r.start], ["end", r.end]]) {
    if (document.activeElement !== $(id)) $(id).value = v;  // not while someone is picking a date
  }
  const cards = $("totals"); cards.replaceChildren();
  for (const [key, label, f] of TOTALS) {
    const c = el("div", { class: "card" });
    c.append(el("div", { class: "label" }, label), el("div", { class: "value", "data-metric": key }, f(r.totals[key])));
    if (cmp) {
      const ch = change(r.totals[key], cmp.totals[key]);
      const cls = WORSE_WHEN_UP.has(key) ? { up: "down", down: "up", "": "" }[ch.cls] : ch.cls;
      c.append(el("div", { class: "chg " + cls, "data-change": key, title: `${cmp.start} – ${cmp.end}: ${f(cmp.totals[key])}` }, ch.text));
    }
    cards.append(c);
  }
  if (page.current !== null && page.current !== undefined) {  // the range holds today
    const c = el("div", { class: "card" });
    c.append(el("div", { class: "label" }, "Current visitors"), el("div", { class: "value", "data-metric": "current_visitors" }, num(page.current)));
    c.title = "Visitors with a page view in the last 5 minutes";
    cards.append(c);
  }
  const notes = [];
  if (r.range_note && r.data_from) notes.push(`Showing the last 7 days of data; the data goes from ${r.data_from} to ${r.data_to}: "All" shows everything.`);
  if (!r.totals.requests && r.data_from) notes.push(`No data in this range; there is data from ${r.data_from} to ${r.data_to}.`);
  if (!r.totals.requests && !r.data_from) notes.push("Nothing ingested yet: this page updates as soon as `rings ingest` writes.");
  if (cmp && cmp.note) notes.push("Compared period: " + cmp.note + ".");
  for (const d of r.damaged || []) notes.push("Warning: " + d);
  $("notice").hidden = notes.length === 0;
  $("notice").textContent = notes.join(" ");
  drawDaily(r);
  drawHourly(r);
  table($("pages"), [
    { key: "path", label: "Page" }, { key: "views", label: "Views", fmt: num },
    { key: "unique_views", label: "Unique", fmt: num }, { key: "avg_time_seconds", label: "Time", fmt: dur },
  ], r.top_pages, undefined, undefined, cmp && cmp.top_pages);
  table($("referrers"), [{ key: "source", label: "Source" }, { key: "visits", label: "Visits", fmt: num }], r.top_referrers,
    undefined, undefined, cmp && cmp.top_referrers);
  table($("campaigns"), [
    { key: "campaign", label: "Campaign", fmt: (v, row) => [row.source, row.medium, v].filter((x) => x).join(" / ") || "(none)" },
    { key: "visits", label: "Visits", fmt: num },
  ], r.top_campaigns, "No utm_ campaigns in this range", undefined, cmp && cmp.top_campaigns);
  table($("posts"), [
    { key: "post_id", label: "Post" }, { key: "views", label: "Views", fmt: num },
    { key: "unique_views", label: "Unique", fmt: num }, { key: "reactions", label: "Reactions", fmt: num },
  ], r.content, "No posts viewed in this range", undefined, cmp && cmp.content);
  const status = Object.entries(r.status || {}).map(([code, n]) => ({ code, requests: n }));
  const statusBefore = cmp ? status.map((row) => ({ requests: (cmp.status || {})[row.code] || 0 })) : null;
  table($("status"), [{ key: "code", label: "Status" }, { key: "requests", label: "Requests", fmt: num }], status,
    undefined, undefined, statusBefore);
  drawGoals(r);
  drawTimes(r);
  drawBreakdowns(r);
  $("tenants-panel").hidden = !r.tenants;
  if (r.tenants) {
    table($("tenants"), [
      { key: "tenant", label: "Site" }, { key: "page_views", label: "Page views", fmt: num },
      { key: "unique_visitors", label: "Visitors", fmt: num }, { key: "requests", label: "Requests", fmt: num },
    ], r.tenants, "No sites", (row) => sitePath(row.tenant) + location.search);
  }
  downloads(r);
  $("asof").textContent = r.as_of ? "Data as of " + r.as_of.replace("T", " ") : "";
}

// Downloads of what the page shows: the report as JSON, and each list as CSV (the server writes
// them, as `rings report --format json|csv` does; CSV cells that look like formulas are quoted).
function reportQuery(r, extra) {
  const q = new URLSearchParams({ start: r.start, end: r.end });
  if (page.compare) q.set("compare", page.compare);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return q;
}
function downloads(r) {
  const base = `${apiPath(page.tenant)}/range?`;
  $("download-json").href = base + reportQuery(r, { format: "json" });
  for (const a of document.querySelectorAll("a[data-csv]")) a.href = base + reportQuery(r, { format: "csv", section: a.dataset.csv });
}

// What visitors use and where they come from: a panel each, shown only when it has rows.
const VISITORS = [{ key: "page_views", label: "Views", fmt: num }, { key: "unique_visitors", label: "Visitors", fmt: num }];
const BREAKDOWNS = [
  ["browsers", [{ key: "browser", label: "Browser", fmt: (v, row) => [v, row.version].filter((x) => x).join(" ") }, ...VISITORS]],
  ["os", [{ key: "os", label: "System" }, ...VISITORS]],
  ["devices", [{ key: "device", label: "Device" }, ...VISITORS, { key: "requests", label: "Requests", fmt: num }]],
  ["countries", [{ key: "country", label: "Country", fmt: (v, row) => (row.name && row.name !== v ? `${v} ${row.name}` : v) }, ...VISITORS]],
  ["not_found", [{ key: "path", label: "Path" }, { key: "requests", label: "Requests", fmt: num }, { key: "bot_requests", label: "From bots", fmt: num }]],
];

function drawBreakdowns(r) {
  for (const [key, cols] of BREAKDOWNS) {
    const rows = r[key] || [];
    $(key + "-panel").hidden = rows.length === 0;
    if (rows.length) table($(key), cols, rows);
  }
}

// Goals (rings.toml [goals]) and each funnel as bars of its steps' visitors; hidden when none.
function drawGoals(r) {
  const goals = r.goals || [];
  $("goals-panel").hidden = goals.length === 0;
  if (goals.length) {
    table($("goals"), [
      { key: "goal", label: "Goal" }, { key: "visitors", label: "Visitors", fmt: num },
      { key: "completions", label: "Completions", fmt: num },
      { key: "conversion_rate", label: "Conversion", fmt: pct },
    ], goals, undefined, undefined, r.compare && r.compare.goals);
  }
  const funnels = r.funnels || [];
  $("funnels-panel").hidden = funnels.length === 0;
  const box = $("funnels"); box.replaceChildren();
  for (const f of funnels) box.append(el("h3", {}, f.funnel), funnelChart(f));
}

// Time served (where the log has request times): the range's figures and the slowest pages.
const secs = (s) => (Number(s) < 1 ? Math.round(Number(s) * 1000) + " ms" : Number(s).toFixed(2) + " s");
function drawTimes(r) {
  const t = r.response_times;
  $("times-panel").hidden = !t;
  if (!t) return;
  $("times-summary").textContent =
    `${num(t.count)} timed requests · mean ${secs(t.mean)} · p50 ${secs(t.p50)} · p95 ${secs(t.p95)} · p99 ${secs(t.p99)} · max ${secs(t.max)}`;
  table($("slowest"), [
    { key: "path", label: "Path" }, { key: "count", label: "Requests", fmt: num },
    { key: "p50", label: "p50", fmt: secs }, { key: "p95", label: "p95", fmt: secs },
  ], t.slowest_pages, "No path with 5 timed requests");
}

function funnelChart(f) {  // a table: its bars are each step's share of the largest, the first
  const first = f.steps.length ? f.steps[0].visitors : 0;
  const rows = f.steps.map((step, i) => ({ step: `${i + 1}. ${step.step}`, visitors: step.visitors, share: first ? step.visitors / first : 0 }));
  const box = el("div");
  table(box, [{ key: "step", label: "Step" }, { key: "visitors", label: "Visitors", fmt: num }, { key: "share", label: "Of step 1", fmt: pct }], rows);
  return box;
}

// Current visitors (a page view in the last 5 minutes): asked every 30 s while the range holds today.
async function pollCurrent() {
  const r = page.report;
  const today = new Date().toISOString().slice(0, 10);
  if (!r || r.end < today) { page.current = null; return; }
  try { page.current = (await getJSON(`${apiPath(page.tenant)}/current`)).current_visitors; } catch (e) { return; }
  const shown = document.querySelector('[data-metric="current_visitors"]');
  if (shown) shown.textContent = num(page.current); else render();
}

// ---- live feed ---------------------------------------------------------------------------------
function renderFeed(fresh) {
  const list = $("feed"); list.replaceChildren();
  if (page.feed.length === 0) { list.append(el("li", { class: "empty" }, "Waiting for page views…")); return; }
  page.feed.forEach((e, i) => {
    const li = el("li", i < fresh ? { class: "new" } : {});
    li.append(el("span", { class: "t" }, (e.time || "").slice(11, 19)), el("span", { class: "p", title: e.path }, e.path),
      el("span", { class: "s" }, page.tenant === "_all" ? e.tenant : e.source));
    list.append(li);
  });
}

function connect() {
  const r = page.report;
  const q = new URLSearchParams({ start: r.start, end: r.end });  // the days shown, fixed
  if (page.compare) q.set("compare", page.compare);
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}${apiPath(page.tenant)}/live?${q}`);
  page.ws = ws;
  const live = $("live");
  ws.onopen = () => { live.textContent = "live"; live.classList.add("on"); page.retry = 1000; };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "init") {
      page.report = msg.stats; page.feed = (msg.recent || []).slice(0, 15); render(); renderFeed(0);
    } else if (msg.type === "update") {
      Object.assign(page.report, msg.stats); render();
      live.classList.add("flash"); setTimeout(() => live.classList.remove("flash"), 600);
    } else if (msg.type === "event") {
      page.feed.unshift(msg.event); page.feed = page.feed.slice(0, 15); renderFeed(1);
    }
  };
  ws.onclose = (ev) => {
    live.textContent = "offline"; live.classList.remove("on");
    if (ev.code === 4404 || ev.code === 4400 || ev.code === 1008) return;
    setTimeout(connect, page.retry); page.retry = Math.min(page.retry * 2, 30000);
  };
}

// ---- pages -------------------------------------------------------------------------------------
// The range in the address: start/end (days or words: 2016-03, yesterday), last (7d, 30d) or all=1,
// and compare=previous; the server resolves the words against the data (`rings report`'s options).
const RANGE_KEYS = ["start", "end", "last", "all"];
function go(range) {
  const q = new URLSearchParams();
  for (const k of RANGE_KEYS) if (range[k]) q.set(k, range[k]);
  if (page.compare) q.set("compare", page.compare);
  location.search = q.toString();
}

async function tenantsInto(select, current) {
  let tenants = [];
  try { tenants = (await getJSON("/api/tenants")).tenants; } catch (e) { return []; }
  select.replaceChildren();
  if (!current) select.append(el("option", { value: "", disabled: "", selected: "" }, "Choose a site…"));
  for (const t of ["_all", ...tenants]) {
    const o = el("option", { value: t }, t === "_all" ? "All sites" : t);
    if (t === current) o.selected = true;
    select.append(o);
  }
  select.hidden = false;
  select.onchange = () => { location.href = sitePath(select.value) + location.search; };
  return tenants;
}

async function showPicker() {
  $("picker").hidden = false; $("live").hidden = true;
  const tenants = await tenantsInto($("tenant-select"), "");
  const list = $("tenant-list"); list.replaceChildren();
  $("picker-note").textContent = tenants.length ? "Pick a site." : "Nothing ingested yet: run `rings ingest`, then reload.";
  for (const t of (tenants.length > 1 ? ["_all", ...tenants] : tenants)) {
    const li = el("li"), a = el("a", { href: sitePath(t) }, t === "_all" ? "All sites" : t);
    a.append(el("span", { class: "muted" }, t === "_all" ? "every site together" : "dashboard"));
    li.append(a); list.append(li);
  }
}

async function showDashboard() {
  $("dash").hidden = false; $("range").hidden = false;
  tenantsInto($("tenant-select"), page.tenant);
  const params = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  for (const k of [...RANGE_KEYS, "compare"]) if (params.get(k)) q.set(k, params.get(k));
  page.compare = params.get("compare") || null;
  $("compare").checked = !!page.compare;
  for (const b of document.querySelectorAll("[data-range]")) {  // the preset in use
    const want = new URLSearchParams(b.dataset.range);
    const same = RANGE_KEYS.every((k) => (params.get(k) || "") === (want.get(k) || ""));
    b.classList.toggle("on", same);
    b.setAttribute("aria-pressed", same ? "true" : "false");
  }
  try {
    page.report = await getJSON(`${apiPath(page.tenant)}/range?${q}`);
  } catch (e) {
    $("title").textContent = page.tenant;
    $("notice").hidden = false; $("notice").textContent = e.message;
    return;
  }
  render(); renderFeed(0);
  connect();
  pollCurrent(); setInterval(pollCurrent, 30000);
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (page.report) { drawDaily(page.report); drawHourly(page.report); } }, 150);
});

function main() {
  $("theme").onclick = () => {
    const dark = getComputedStyle(document.documentElement).colorScheme === "dark";
    const next = dark ? "light" : "dark";
    localStorage.setItem("rings-theme", next); applyTheme(next);
  };
  $("range").onsubmit = (ev) => { ev.preventDefault(); go({ start: $("start").value, end: $("end").value }); };
  for (const b of document.querySelectorAll("[data-range]")) {
    b.onclick = () => go(Object.fromEntries(new URLSearchParams(b.dataset.range)));
  }
  $("compare").onchange = () => {  // the same days, with or without the period before them
    const q = new URLSearchParams(location.search);
    if ($("compare").checked) q.set("compare", "previous"); else q.delete("compare");
    location.search = q.toString();
  };
  const parts = location.pathname.split("/");  // "/site/T" or "/T"
  const part = decodeURIComponent((parts.length === 3 && parts[1] === "site" ? parts[2] : parts[1]) || "");
  if (!part) { showPicker(); return; }
  page.tenant = part;
  document.title = (part === "_all" ? "All sites" : part) + " · Rings";
  showDashboard();
}

main();
