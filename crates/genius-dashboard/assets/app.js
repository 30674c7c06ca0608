// genius dashboard: draws each page from the JSON endpoints. Plain JavaScript, no dependencies, no build step.
"use strict";

// Okabe–Ito, readable by colour-blind readers (the palette of genius-report's plots).
const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"];
const main = document.getElementById("main");
const live = document.getElementById("live");
let timer = null;

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function num(v, digits = 2) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  if (typeof v !== "number") return esc(v);
  return Math.abs(v) >= 1e6 ? v.toExponential(3) : v.toFixed(digits);
}
function int(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en-US"); }
function enc(path) { return path.split("/").map(encodeURIComponent).join("/"); }
function badge(s) { return `<span class="status ${esc(s)}">${esc(s)}</span>`; }
async function getJson(url) {
  const r = await fetch(url, { cache: "no-store" });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}
function fail(e) { main.innerHTML = `<p class="error" id="error">${esc(e.message || e)}</p>`; }
function poll(fn, ms) {
  clearTimeout(timer);
  const tick = async () => {
    try { await fn(); live.textContent = "updated " + new Date().toLocaleTimeString(); } catch (e) { fail(e); return; }
    timer = setTimeout(tick, ms);
  };
  tick();
}

// A table whose columns sort on a click; `cols` = [{key, label, num, fmt}]; keeps the sort over refreshes.
const sortState = {};
function sortable(id, cols, rows) {
  const st = sortState[id] || (sortState[id] = { key: null, dir: 1 });
  const sorted = rows.slice();
  if (st.key) {
    sorted.sort((a, b) => {
      const x = a[st.key], y = b[st.key];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * st.dir;
    });
  }
  const head = cols.map(c => `<th class="sortable${c.num ? " num" : ""}" data-table="${id}" data-key="${c.key}">${esc(c.label)}</th>`).join("");
  const body = sorted.map(r => "<tr>" + cols.map(c => `<td${c.num ? ' class="num"' : ""}>${c.fmt ? c.fmt(r[c.key], r) : esc(r[c.key])}</td>`).join("") + "</tr>").join("");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}
document.addEventListener("click", ev => {
  const th = ev.target.closest("th.sortable");
  if (!th) return;
  const st = sortState[th.dataset.table] || (sortState[th.dataset.table] = { key: null, dir: 1 });
  st.dir = st.key === th.dataset.key ? -st.dir : 1;
  st.key = th.dataset.key;
  route(false);
});

// ---- plots -------------------------------------------------------------------------------------------------------
function scale(d0, d1, r0, r1) {
  if (d0 === d1) { d0 -= 1; d1 += 1; }
  return v => r0 + (v - d0) / (d1 - d0) * (r1 - r0);
}
function ticks(lo, hi, n) {
  if (lo === hi) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
  const m = [1, 2, 5, 10].find(k => (hi - lo) / (step * k) <= n) * step;
  const out = [];
  for (let v = Math.ceil(lo / m) * m; v <= hi + 1e-9; v += m) out.push(+v.toFixed(10));
  return out;
}
// series: [{label, color, points: [[x, y]], kind: "points" | "step", dash}]
function plot(id, series, xLabel, yLabel) {
  const W = 820, H = 340, L = 64, R = 16, T = 14, B = 42;
  const all = series.flatMap(s => s.points).filter(p => p[1] !== null && Number.isFinite(p[1]));
  if (!all.length) return `<p class="muted">No results to plot yet.</p>`;
  const xs = all.map(p => p[0]), ys = all.map(p => p[1]);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  const pad = (y1 - y0) * 0.05 || 1; y0 -= pad; y1 += pad;
  const x0 = Math.min(0, ...xs), x1 = Math.max(1, ...xs);
  const sx = scale(x0, x1, L, W - R), sy = scale(y0, y1, H - B, T);
  let g = `<svg id="${id}" class="plot" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(yLabel)} against ${esc(xLabel)}">`;
  for (const t of ticks(y0, y1, 6)) g += `<line x1="${L}" x2="${W - R}" y1="${sy(t)}" y2="${sy(t)}" stroke="#eee"/><text x="${L - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${t}</text>`;
  for (const t of ticks(x0, x1, 10)) g += `<text x="${sx(t)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${t}</text>`;
  g += `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#888"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#888"/>`;
  g += `<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`;
  g += `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`;
  for (const s of series) {
    const pts = s.points.filter(p => p[1] !== null && Number.isFinite(p[1]));
    if (s.kind === "points") {
      for (const p of pts) g += `<circle class="point" cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}" fill-opacity=".55"><title>${esc(s.label)} ${p[0]}: ${p[1]}</title></circle>`;
    } else if (pts.length) {
      let d = `M${sx(pts[0][0]).toFixed(1)},${sy(pts[0][1]).toFixed(1)}`;
      for (let i = 1; i < pts.length; i++) d += `H${sx(pts[i][0]).toFixed(1)}V${sy(pts[i][1]).toFixed(1)}`;
      g += `<path class="curve" data-points="${pts.length}" d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`;
    }
  }
  g += "</svg>";
  const legend = series.map(s => `<span><svg width="26" height="10"><line x1="0" x2="26" y1="5" y2="5" stroke="${s.color}" stroke-width="${s.kind === "points" ? 6 : 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/></svg> ${s.label}</span>`).join("");
  return g + `<div class="legend">${legend}</div>`;
}

// ---- pages -------------------------------------------------------------------------------------------------------
async function listPage(first) {
  const params = new URLSearchParams(location.search);
  if (first) {
    main.innerHTML = `<h1>Runs and grids</h1><div id="grids"></div>
      <h2>Runs</h2>
      <form class="filters" id="filters">
        <input name="q" placeholder="filter: path, space, optimizer" size="32" value="${esc(params.get("q") || "")}">
        <select name="space"><option value="">every space</option></select>
        <select name="optimizer"><option value="">every optimizer</option></select>
        <select name="status"><option value="">every status</option>${["running", "finished", "interrupted", "failed"].map(s => `<option${params.get("status") === s ? " selected" : ""}>${s}</option>`).join("")}</select>
        <button>filter</button>
      </form>
      <div id="runs"></div>`;
    document.getElementById("filters").addEventListener("submit", ev => {
      ev.preventDefault();
      const q = new URLSearchParams(new FormData(ev.target));
      for (const [k, v] of [...q]) if (!v) q.delete(k);
      history.pushState(null, "", "/?" + q);
      route(false);
    });
  }
  poll(async () => {
    const p = new URLSearchParams(location.search);
    const data = await getJson("/api/runs?" + p);
    const form = document.getElementById("filters");
    for (const [name, values] of [["space", data.spaces], ["optimizer", data.optimizers]]) {
      const sel = form.elements[name];
      const want = p.get(name) || "";
      sel.innerHTML = `<option value="">every ${name}</option>` + values.map(v => `<option${v === want ? " selected" : ""}>${esc(v)}</option>`).join("");
    }
    document.getElementById("grids").innerHTML = data.grids.length ? `<h2>Grids</h2>` + sortable("grid-table", [
      { key: "path", label: "grid", fmt: (v) => `<a href="/grid/${enc(v)}">${esc(v)}</a>` },
      { key: "name", label: "experiment" },
      { key: "runs", label: "runs", num: true },
      { key: "by_status", label: "status", fmt: v => Object.entries(v).map(([k, n]) => `${badge(k)} ${n}`).join(" ") },
    ], data.grids) : "";
    const page = data.page, pages = data.pages;
    const link = n => { const q = new URLSearchParams(p); q.set("page", n); return "/?" + q; };
    document.getElementById("runs").innerHTML =
      `<div class="pager"><span id="run-total">${int(data.total)} run(s)</span> · page ${page} of ${pages}
        ${page > 1 ? `<a href="${link(page - 1)}" data-nav>previous</a>` : ""} ${page < pages ? `<a href="${link(page + 1)}" data-nav>next</a>` : ""}</div>` +
      sortable("run-table", [
        { key: "path", label: "run", fmt: v => `<a href="/run/${enc(v)}">${esc(v)}</a>` },
        { key: "space", label: "space" },
        { key: "label", label: "optimizer" },
        { key: "seed", label: "seed", num: true },
        { key: "status", label: "status", fmt: (v, r) => badge(v) + (r.error ? ` <span class="muted">${esc(r.error)}</span>` : "") },
        { key: "trials", label: "trials", num: true },
        { key: "best_search", label: "best (search)", num: true, fmt: (v, r) => v === null ? "–" : `${num(v)} <span class="muted">${esc(r.search_metric)}</span>` },
        { key: "best_reported", label: "its reported", num: true, fmt: (v, r) => v === null ? "–" : `${num(v)} <span class="muted">${esc(r.report_metric)}</span>` },
        { key: "best_arch", label: "best architecture", fmt: v => `<code>${esc(v)}</code>` },
      ], data.runs);
  }, 5000);
}

async function runPage(path) {
  poll(async () => {
    const r = await getJson("/api/run/" + enc(path));
    const trials = r.trials;
    const searchPts = trials.filter(t => t.search !== null).map(t => [t.index, t.search]);
    const best = r.curve.map(c => [c.evaluations, c.search]);
    const series = [
      { label: `every trial (${esc(r.search_metric)}, by trial)`, color: PALETTE[5], kind: "points", points: searchPts },
      { label: `best so far (${esc(r.search_metric)}, searched)`, color: PALETTE[0], kind: "step", points: best },
    ];
    if (r.report_metric !== r.search_metric) {
      series.push({ label: `<span class="heldout">held out: ${esc(r.report_metric)}</span> of the best so far (never seen by the search)`, color: PALETTE[1], kind: "step", dash: "6 4", points: r.curve.map(c => [c.evaluations, c.reported]) });
    }
    const last = r.curve.length ? r.curve[r.curve.length - 1] : null;
    const usage = r.usage;
    main.innerHTML = `<h1>${esc(r.path)} ${badge(r.status)}</h1>
      <dl class="facts">
        <dt>space</dt><dd>${esc(r.space)}</dd>
        <dt>optimizer</dt><dd>${esc(r.label.optimizer)} <span class="muted">(${esc(r.optimizer)})</span></dd>
        <dt>seed</dt><dd>${esc(r.seed)}</dd>
        <dt>evaluator</dt><dd>${esc(r.evaluator.name)}</dd>
        <dt>trials</dt><dd><span id="trial-count">${trials.length}</span> (${r.evaluations} evaluations${r.budget.evaluations ? ` of ${r.budget.evaluations}` : ""})</dd>
        <dt>best so far</dt><dd id="best">${last ? `${num(last.search)} ${esc(r.search_metric)} (trial <a href="/trial/${enc(r.path)}?index=${last.trial}">${last.trial}</a>)${last.reported !== null && r.report_metric !== r.search_metric ? `; <span class="heldout">held out</span> ${esc(r.report_metric)} ${num(last.reported)}` : ""}${last.rank ? `; rank ${int(last.rank)}` : ""}` : "–"}</dd>
        ${r.llm_calls ? `<dt>model</dt><dd><a id="conversation-link" href="/conversation/${enc(r.path)}">the conversation: ${r.llm_calls} call(s)</a>, ${int(usage.prompt_tokens + usage.completion_tokens)} tokens, $${num(usage.cost_usd, 4)}</dd>` : ""}
        <dt>started</dt><dd>${esc(r.created_at)}${r.summary ? `; ended ${esc(r.summary.finished_at)}` : ""}</dd>
      </dl>
      <h2>Search</h2>${plot("run-plot", series, "trial / evaluations", r.search_metric)}
      <h2>Trials</h2>` + sortable("trial-table", [
        { key: "index", label: "#", num: true, fmt: v => `<a href="/trial/${enc(r.path)}?index=${v}">${v}</a>` },
        { key: "ask", label: "ask", num: true },
        { key: "text", label: "architecture", fmt: v => `<code>${esc(v)}</code>` },
        { key: "status", label: "status", fmt: (v, t) => esc(v) + (t.reason ? ` <span class="muted">${esc(t.reason)}</span>` : "") },
        { key: "search", label: r.search_metric, num: true, fmt: v => num(v) },
        ...(r.report_metric !== r.search_metric ? [{ key: "reported", label: r.report_metric + " (held out)", num: true, fmt: v => num(v) }] : []),
        { key: "rank", label: "rank", num: true, fmt: (v, t) => v ? `${int(v)} / ${int(t.of)}` : "–" },
        { key: "params", label: "params", num: true, fmt: int },
        { key: "flops", label: "FLOPs", num: true, fmt: int },
        { key: "duration_s", label: "s", num: true, fmt: v => num(v, 3) },
      ], trials);
  }, 1500);
}

async function trialPage(path) {
  const index = new URLSearchParams(location.search).get("index") || "0";
  clearTimeout(timer);
  try {
    const t = await getJson(`/api/trial/${enc(path)}?index=${encodeURIComponent(index)}`);
    main.innerHTML = `<h1>Trial ${t.index} of <a href="/run/${enc(t.run)}">${esc(t.run)}</a></h1>
      <dl class="facts">
        <dt>architecture</dt><dd><code id="arch-text">${esc(t.text)}</code></dd>
        <dt>choices</dt><dd><code>${esc(JSON.stringify(t.arch))}</code></dd>
        <dt>space</dt><dd>${esc(t.space)}</dd>
        <dt>status</dt><dd>${esc(t.status)}${t.reason ? ` (${esc(t.reason)})` : ""}${t.counted ? "" : ", not counted"}</dd>
        <dt>rank in the table</dt><dd>${t.rank ? `${int(t.rank.rank)} / ${int(t.rank.of)}` : "–"}</dd>
        <dt>place in this run</dt><dd>${t.place_in_run ? `${t.place_in_run.place} of ${t.place_in_run.of} by the search metric` : "–"}</dd>
        <dt>params</dt><dd>${int(t.params)}</dd><dt>FLOPs</dt><dd>${int(t.flops)}</dd>
        <dt>evaluation cost</dt><dd>${t.cost_s === null ? "–" : num(t.cost_s, 1) + " s"}</dd>
        <dt>proposed</dt><dd>ask ${t.ask}, with trial(s) ${t.proposed_with.map(i => `<a href="/trial/${enc(t.run)}?index=${i}">${i}</a>`).join(", ")}${t.llm_calls ? `; <a href="/conversation/${enc(t.run)}#ask-${t.ask}">the model calls of this ask (${t.llm_calls})</a>` : ""}</dd>
      </dl>
      <h2>Metrics</h2>
      <table><tr><th>metric</th><th class="num">value</th><th></th></tr>${t.metrics.map(m => `<tr><td>${esc(m.name)}</td><td class="num">${num(m.value, 4)}</td><td>${m.searched ? "searched" : ""}${m.held_out ? '<span class="heldout">held out: never shown to the search</span>' : ""} <span class="muted">${esc(m.description || "")}</span></td></tr>`).join("")}</table>
      ${t.details ? `<h2>Details</h2><pre>${esc(JSON.stringify(t.details, null, 2))}</pre>` : ""}`;
  } catch (e) { fail(e); }
}

function messageHtml(m) {
  const body = m.state === "changed"
    ? `<pre class="diff">${m.diff.map(([tag, line]) => tag === "+" ? `<span class="add">+ ${esc(line)}</span>` : tag === "-" ? `<span class="del">- ${esc(line)}</span>` : `  ${esc(line)}`).join("\n")}</pre>`
    : m.state === "same" ? `<details><summary class="muted">unchanged since the previous call</summary><pre>${esc(m.content)}</pre></details>`
    : `<pre>${esc(m.content)}</pre>`;
  return `<div class="msg ${esc(m.state)}"><div class="role">${esc(m.role)} · ${esc(m.state === "first" ? "sent" : m.state)}</div>${body}</div>`;
}

async function conversationPage(path) {
  poll(async () => {
    const c = await getJson("/api/conversation/" + enc(path));
    const items = c.items.map(it => {
      if (it.type === "event") {
        return `<div class="msg event"><div class="role">${esc(it.kind)} · ask ${it.ask}</div><pre>${esc(JSON.stringify(it.data, null, 2))}</pre></div>`;
      }
      const retries = it.retries.map(r => `<div class="msg retry"><div class="role">retry ${esc(r.attempt)}</div>${esc(r.error)}${r.status ? ` (HTTP ${esc(r.status)})` : ""}, waited ${num(r.wait_s, 2)} s</div>`).join("");
      const problems = it.problems.map(p => `<div class="msg problem"><div class="role">problem: ${esc(p.kind)} · repair ${esc(p.repairs)}</div><pre>${esc(p.problem)}</pre>${p.repair ? `<div class="role">repair sent</div><pre class="repair">${esc(p.repair)}</pre>` : "<div>no repair left: the optimizer gave up</div>"}</div>`).join("");
      const proposal = it.trials ? `<div class="msg proposal"><div class="role">proposal parsed → trials</div>${it.trials.length ? it.trials.map(t => `<a href="/trial/${enc(c.run)}?index=${t.index}">trial ${t.index}</a> <code>${esc(t.text)}</code> ${esc(t.status)}${t.search !== null ? ` ${num(t.search)}` : ""}${t.reason ? ` <span class="muted">${esc(t.reason)}</span>` : ""}`).join("<br>") : "<span class=muted>no trial recorded yet</span>"}</div>` : "";
      return `<div class="call" id="call-${it.call}" data-ask="${it.ask}"><a id="ask-${it.ask}"></a>
        <h3>call ${it.call} · ask ${it.ask} · ${esc(it.purpose)}</h3>
        <div class="muted">${esc(it.model?.provider)}:${esc(it.model?.model)} · ${esc(it.source)} · ${num(it.latency_s, 2)} s · ${int(it.usage.prompt_tokens)} + ${int(it.usage.completion_tokens)} tokens · $${num(it.usage.cost_usd, 4)}${it.schema ? ` · schema ${esc(it.schema)}` : ""}</div>
        ${retries}
        ${it.messages.map(messageHtml).join("")}
        <div class="msg reply"><div class="role">reply</div><pre class="reply-text">${esc(it.reply)}</pre>${it.refusal ? `<div>refusal: ${esc(it.refusal)}</div>` : ""}</div>
        ${problems}${proposal}</div>`;
    }).join("");
    main.innerHTML = `<h1>Conversation of <a href="/run/${enc(c.run)}">${esc(c.run)}</a></h1>
      <p><span id="call-count">${c.calls}</span> model call(s), ${c.retries} retried attempt(s), <span id="repair-count">${c.repairs}</span> repair(s);
      ${int(c.prompt_tokens)} prompt + ${int(c.completion_tokens)} completion tokens; $${num(c.cost_usd, 4)}.
      A later prompt shows only what changed since the call before.</p>` + (items || `<p class="muted">This run has no model calls.</p>`);
  }, 4000);
}

function markdown(md) {
  // Enough Markdown for report.md: headings, paragraphs, lists, tables, code blocks, **bold**.
  const inline = s => esc(s).replace(/\*\*(.+?)\*\*/g, "<b>$1</b>").replace(/`([^`]+)`/g, "<code>$1</code>");
  const lines = md.split("\n"), out = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.startsWith("```")) {
      const buf = []; i++;
      while (i < lines.length && !lines[i].startsWith("```")) buf.push(lines[i++]);
      out.push(`<pre>${esc(buf.join("\n"))}</pre>`);
    } else if (/^#{1,4} /.test(l)) {
      const n = l.match(/^#+/)[0].length;
      out.push(`<h${n}>${inline(l.slice(n + 1))}</h${n}>`);
    } else if (l.startsWith("|")) {
      const rows = [];
      while (i < lines.length && lines[i].startsWith("|")) rows.push(lines[i++]);
      i--;
      const cells = r => r.replace(/^\|/, "").replace(/\|\s*$/, "").split("|").map(c => c.trim());
      const body = rows.filter((r, k) => !(k === 1 && /^\|[\s:\-|]+$/.test(r)));
      out.push("<table>" + body.map((r, k) => "<tr>" + cells(r).map(c => k === 0 ? `<th>${inline(c)}</th>` : `<td>${inline(c)}</td>`).join("") + "</tr>").join("") + "</table>");
    } else if (/^[-*] /.test(l)) {
      const items = [];
      while (i < lines.length && /^[-*] /.test(lines[i])) items.push(lines[i++].slice(2));
      i--;
      out.push("<ul>" + items.map(x => `<li>${inline(x)}</li>`).join("") + "</ul>");
    } else if (l.trim()) {
      out.push(`<p>${inline(l)}</p>`);
    }
  }
  return out.join("\n");
}

async function gridPage(path) {
  poll(async () => {
    const g = await getJson("/api/grid/" + enc(path));
    const plots = g.plots.map(p => `<img class="plot" alt="${esc(p.stem)}" src="data:image/svg+xml;charset=utf-8,${encodeURIComponent(p.svg)}">`).join("");
    const main_rows = g.rows.filter(r => !r.ablation);
    main.innerHTML = `<h1>Grid ${esc(g.name || g.path)}</h1>
      <p>${g.runs.length} run(s); budgets ${g.budgets.join(", ")}${g.failures.length ? `; ${g.failures.length} failed` : ""}. Every number below is computed by genius-report from the run logs as they are now: the same code, and so the same numbers, as <code>genius report</code>'s report.md.</p>
      <h2>Curves and final distributions</h2><div id="grid-plots">${plots}</div>
      <h2>Rows</h2>` + sortable("grid-rows", [
        { key: "space", label: "space" }, { key: "optimizer", label: "optimizer" },
        { key: "budget", label: "budget", num: true }, { key: "runs", label: "runs", num: true },
        { key: "cell", label: "result (mean ± sd, rank)" },
        { key: "mean_regret", label: "mean regret", num: true, fmt: v => num(v, 3) },
        { key: "llm_calls", label: "model calls", num: true, fmt: v => num(v, 1) },
        { key: "cost_usd", label: "$", num: true, fmt: v => num(v, 4) },
      ], main_rows) + `<h2>report.md</h2><div class="report" id="report">${markdown(g.report_md)}</div>`;
  }, 10000);
}

function route(first = true) {
  const p = decodeURIComponent(location.pathname);
  const crumbs = document.getElementById("crumbs");
  crumbs.textContent = "";
  for (const [prefix, page] of [["/run/", runPage], ["/trial/", trialPage], ["/conversation/", conversationPage], ["/grid/", gridPage]]) {
    if (p.startsWith(prefix)) {
      crumbs.textContent = prefix.slice(1, -1);
      if (first) main.innerHTML = `<p class="muted">Loading…</p>`;
      return page(p.slice(prefix.length));
    }
  }
  return listPage(first);
}
document.addEventListener("click", ev => {
  const a = ev.target.closest("a[data-nav]");
  if (!a) return;
  ev.preventDefault();
  history.pushState(null, "", a.getAttribute("href"));
  route(false);
});
window.addEventListener("popstate", () => route(true));
route(true);
