// Anomaly work (异常处理): the list with filters (rule, status, area, dates, assignee),
// batch confirm / dismiss / close with one comment, statistics by rule; a record's detail
// (#/anomalies/<id>) with its evidence drawn as a chart (the register and the daily
// consumption around the days that triggered it), the comment dialog, assignment and the
// record's history. Assignment, history, batch and statistics use the endpoints of
// issue 19 where the server has them; without them those controls are not shown.
import {api, can, has, loadRules, param, post, session} from "../api.js";
import {countBars, daysChart} from "../charts.js";
import {code, day, int, num, status, t, when} from "../i18n.js";
import {$, $$, dialog, esc, exportButtons, isDay, option, pager, shiftDay, table, toast} from "../ui.js";

export const refresh = 120;
const STATUSES = ["open", "confirmed", "dismissed", "closed"];
const NEXT = {open: ["confirmed", "dismissed"], confirmed: ["closed"], dismissed: ["closed", "open"], closed: []};
const VERB = {confirmed: "confirm", dismissed: "dismiss", closed: "close", open: "reopen"};
const PAGE = 50;

async function commentDialog(action, count) {
  const title = `${t(VERB[action])}${count > 1 ? " · " + t("n_selected", {n: count}) : ""}`;
  const v = await dialog(title, `<label>${esc(t("comment"))}<textarea name="comment" id="comment" maxlength="2000"></textarea></label>`,
    {okText: t(VERB[action]), validate: (x) => (String(x.comment || "").trim() ? null : t("comment_needed"))});
  return v ? String(v.comment).trim() : null;
}

export default async function anomalies(ctx) {
  if (ctx.arg) return detail(ctx, Number(ctx.arg));
  const {main, q} = ctx;
  const rules = await loadRules();
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const [areaP, startOk, batchOk, statsOk] = await Promise.all([param("/api/anomalies", "area_id", "area"),
    param("/api/anomalies", "start", "-"), has("/api/anomalies/batch", "post"), has("/api/anomalies/stats")]);
  const f = {};
  for (const k of ["rule", "status", "area_id", "start", "end", "assigned_to"]) if (q.get(k)) f[k] = q.get(k);
  const statsBy = q.get("stats") === "area" ? "area" : "rule";
  const p = new URLSearchParams({limit: String(PAGE), offset: String(off)});
  if (f.rule) p.set("rule", f.rule);
  if (f.status) p.set("status", f.status);
  if (f.area_id) p.set(areaP, f.area_id);
  if (startOk === "start") { if (isDay(f.start)) p.set("start", f.start); if (isDay(f.end)) p.set("end", f.end); if (f.assigned_to) p.set("assigned_to", f.assigned_to); }
  const [data, areas, stats] = await Promise.all([api("/api/anomalies?" + p.toString()), api("/api/areas?limit=1000"),
    statsOk ? api(`/api/anomalies/stats?by=${statsBy}&start=${shiftDay(new Date().toISOString().slice(0, 10), -30)}&end=${new Date().toISOString().slice(0, 10)}`).catch(() => null) : null]);
  const operator = can("operator");
  // the signed-in clerk's own queue: the records assigned to them still in work (open, or
  // confirmed and waiting to be closed), each count a link to that filtered list
  const me = session.user;
  const mine = me && startOk === "start" ? await Promise.all(["open", "confirmed"].map((s) =>
    api(`/api/anomalies?${new URLSearchParams({assigned_to: me, status: s, limit: "1"})}`).then((d) => [s, d.total]).catch(() => null))) : [];
  const queue = mine.every(Boolean) && mine.length ? `<p class="toolbar" id="my-queue"><strong>${esc(t("my_queue"))}</strong>
    ${mine.map(([s, n]) => `<a href="#/anomalies?${esc(new URLSearchParams({assigned_to: me, status: s}).toString())}" data-status="${s}"
      class="${f.assigned_to === me && f.status === s ? "active" : ""}">${esc(status(s))} ${esc(int(n))}</a>`).join(" · ")}</p>` : "";
  const pg = pager("anomalies", {...data, limit: PAGE, offset: off}, (o) => ctx.go({offset: o}));
  const ep = new URLSearchParams(p);
  const exp = await exportButtons("anomalies", "/api/anomalies", ep, "anomalies");
  const cols = [...(operator && batchOk ? [["pick", `<input type="checkbox" id="pick-all" aria-label="${esc(t("select_all"))}">`]] : []),
    "meter", "area", "rule", "status", "first", "last", "assignee", "comment", ...(operator ? ["actions"] : []), "detail"];
  main.innerHTML = `<h2>${esc(t("anomalies_title"))}</h2>
    ${queue}
    <form class="toolbar" id="anomaly-filters">
      <label>${esc(t("rule"))}<select name="rule" id="f-rule">${option("", t("all"))}${rules.map((r) => option(r.name, code("rule", r.name), r.name === f.rule)).join("")}</select></label>
      <label>${esc(t("status"))}<select name="status" id="f-status">${option("", t("all"))}${STATUSES.map((s) => option(s, status(s), s === f.status)).join("")}</select></label>
      <label>${esc(t("area"))}<select name="area_id" id="f-area">${option("", t("all"))}${areas.items.map((a) => option(a.id, `${a.name} (${a.id})`, a.id === f.area_id)).join("")}</select></label>
      ${startOk === "start" ? `<label>${esc(t("from"))}<input type="date" name="start" value="${esc(f.start || "")}"></label>
        <label>${esc(t("to"))}<input type="date" name="end" value="${esc(f.end || "")}"></label>
        <label>${esc(t("assignee"))}<input name="assigned_to" size="10" value="${esc(f.assigned_to || "")}"></label>` : ""}
      <button type="submit" class="primary">${esc(t("apply"))}</button> ${exp.html}</form>
    <div class="grid2"><div><h3>${esc(t("open_by_rule"))}</h3><div class="chart small" id="by-rule-chart"></div></div>
      <div>${stats ? `<h3>${esc(t("stats"))} <small class="muted">${esc(day(stats.start))} – ${esc(day(stats.end))}</small>
        <select id="stats-by">${option("rule", t("rule"), statsBy === "rule")}${option("area", t("area"), statsBy === "area")}</select></h3>
        ${table([[statsBy, statsBy], "new_30d", "s_open", "s_confirmed", "s_dismissed", "s_closed"], stats.items, (r, c) => ({
        rule: esc(code("rule", r.key)), area: esc(r.key), new_30d: esc(int((r.days || []).reduce((a, x) => a + x.new, 0))),
        s_open: esc(int(r.open)), s_confirmed: esc(int(r.confirmed)), s_dismissed: esc(int(r.dismissed)), s_closed: esc(int(r.closed))}[c]), {id: "stats-table"})}
        <div class="chart small" id="stats-chart"></div>` : ""}</div></div>
    ${operator && batchOk ? `<div class="toolbar" id="batch-bar"><span id="picked" class="muted">${esc(t("n_selected", {n: 0}))}</span>
      ${["confirmed", "dismissed", "closed"].map((s) => `<button type="button" class="batch" data-status="${s}" disabled>${esc(t(VERB[s]))}</button>`).join("")}</div>` : ""}
    ${pg.html}
    ${table(cols, data.items, (r, c) => ({
      pick: `<input type="checkbox" class="pick" value="${r.id}" data-status="${esc(r.status)}">`,
      meter: r.meter_id ? `<a href="#/meters/${encodeURIComponent(r.meter_id)}">${esc(r.meter_id)}</a>` : "–",
      area: esc(r.area_id), rule: `<span data-rule="${esc(r.rule)}">${esc(code("rule", r.rule))}</span>`,
      status: `<span class="badge status ${esc(r.status)}" data-status="${esc(r.status)}">${esc(status(r.status))}</span>`,
      first: esc(day(r.first_date)), last: esc(day(r.last_date)), assignee: esc(r.assigned_to || "–"), comment: esc(r.comment || ""),
      actions: NEXT[r.status].map((s) => `<button type="button" class="act" data-id="${r.id}" data-status="${s}">${esc(t(VERB[s]))}</button>`).join(" "),
      detail: `<a class="detail" href="#/anomalies/${r.id}">${esc(t("detail"))}</a>`,
    }[c]), {id: "anomaly-table"})}`;
  pg.bind();
  exp.bind();
  countBars($("#by-rule-chart"), data.open_by_rule.map((r) => ({name: code("rule", r.rule), value: r.n})));
  if (stats && stats.items.length && stats.items[0].days) {
    // new records per day over the period, one line per rule or area
    const days = stats.items[0].days.map((x) => x.date);
    daysChart($("#stats-chart"), {days, line: stats.items.reduce((acc, r) => acc.map((v, i) => v + r.days[i].new), days.map(() => 0)),
      lineName: t("new_30d"), unit: "", fmt: (v) => String(Math.round(v))});
  }
  const sb = $("#stats-by");
  if (sb) sb.onchange = () => ctx.go({stats: sb.value});
  $("#anomaly-filters").onsubmit = (ev) => {
    ev.preventDefault();
    const n = {offset: ""};
    for (const [k, v] of new FormData(ev.target).entries()) n[k] = v;
    ctx.go(n);
  };
  $$("button.act").forEach((b) => {
    b.onclick = async () => {
      const comment = await commentDialog(b.dataset.status, 1);
      if (comment === null) return;  // cancelled: the anomaly stays as it is
      try {
        await post(`/api/anomalies/${b.dataset.id}/status`, {status: b.dataset.status, comment});
        toast(`${t(VERB[b.dataset.status])} ✓`);
        ctx.reload();
      } catch (e) { toast(e.message, true); }
    };
  });
  if (!(operator && batchOk)) return;
  const picks = () => $$("input.pick:checked");
  const update = () => {
    const chosen = picks();
    $("#picked").textContent = t("n_selected", {n: chosen.length});
    $$("button.batch").forEach((b) => { b.disabled = !chosen.length || !chosen.every((i) => NEXT[i.dataset.status].includes(b.dataset.status)); });
    if (chosen.length) main.dataset.dirty = "1"; else delete main.dataset.dirty;
  };
  $$("input.pick").forEach((i) => { i.onchange = update; });
  $("#pick-all").onchange = (ev) => { $$("input.pick").forEach((i) => { i.checked = ev.target.checked; }); update(); };
  $$("button.batch").forEach((b) => {
    b.onclick = async () => {
      const ids = picks().map((i) => Number(i.value));
      const comment = await commentDialog(b.dataset.status, ids.length);
      if (comment === null) return;
      try {
        const r = await post("/api/anomalies/batch", {ids, status: b.dataset.status, comment});
        toast(`${t(VERB[b.dataset.status])}: ${r.done} ✓${r.refused ? ` · ${r.refused} ✗` : ""}`, r.refused > 0);
        delete main.dataset.dirty;
        ctx.reload();
      } catch (e) { toast(e.message, true); }
    };
  });
}

async function detail(ctx, id) {
  const {main} = ctx;
  const [detailOk, historyOk, assignOk, commentOk] = await Promise.all([has("/api/anomalies/{id}"), has("/api/anomalies/{id}/history"),
    has("/api/anomalies/{id}/assign", "post"), has("/api/anomalies/{id}/comments", "post")]);
  let rec;
  if (detailOk) rec = await api(`/api/anomalies/${id}`);
  else {
    // the older list has no detail: find the record by its id among the meter's or all
    const all = await api("/api/anomalies?limit=100000");
    rec = all.items.find((r) => r.id === id);
    if (!rec) throw Object.assign(new Error(t("err_not_found")), {status: 404});
  }
  const history = historyOk ? (await api(`/api/anomalies/${id}/history`)).items : null;
  // the people to assign to: the user list for administrators, a user name typed by others
  const got = can("admin") && assignOk ? await api("/api/users?limit=1000").catch(() => null) : null;
  const users = got && !Array.isArray(got) ? got.items : got;
  // the evidence as a chart: the server's series, else the meter's register and daily
  // consumption of the week before the first day to the last day
  let ev = rec.evidence_series;
  if (!ev && rec.meter_id) {
    const start = shiftDay(rec.first_date, -8), end = rec.last_date;
    const fr = await api(`/api/meters/${encodeURIComponent(rec.meter_id)}/freeze?start=${start}&end=${end}`);
    const reg = {};
    fr.freezes.filter((x) => x.quantity === "energy_import_total").forEach((x) => { reg[x.data_date] = x.value; });
    const days = [];
    for (let x = shiftDay(start, 1); x <= end; x = shiftDay(x, 1)) days.push(x);
    ev = {days, series: [{name: "energy_import_total", unit: "kWh", values: days.map((x) => reg[x] ?? null)},
      {name: "consumption", unit: "kWh", values: days.map((x) => (reg[x] !== undefined && reg[shiftDay(x, -1)] !== undefined ? reg[x] - reg[shiftDay(x, -1)] : null))}],
    marked: [rec.first_date, rec.last_date]};
  }
  const operator = can("operator");
  const evidenceRows = Object.entries(rec.evidence || {});
  main.innerHTML = `<p><a href="#/anomalies">← ${esc(t("anomalies_title"))}</a></p>
    <h2>${esc(code("rule", rec.rule))} <span class="badge ${esc(rec.status)}" id="detail-status" data-status="${esc(rec.status)}">${esc(status(rec.status))}</span></h2>
    <div class="grid2"><div class="card"><dl class="archive">
      <dt>${esc(t("meter"))}</dt><dd>${rec.meter_id ? `<a href="#/meters/${encodeURIComponent(rec.meter_id)}">${esc(rec.meter_id)}</a>` : "–"}</dd>
      <dt>${esc(t("area"))}</dt><dd>${esc(rec.area_name || rec.area_id || "–")}</dd>
      <dt>${esc(t("first"))}</dt><dd>${esc(day(rec.first_date))}</dd><dt>${esc(t("last"))}</dt><dd>${esc(day(rec.last_date))}</dd>
      <dt>${esc(t("assignee"))}</dt><dd id="detail-assignee">${esc(rec.assigned_to || "–")}</dd>
      <dt>${esc(t("comment"))}</dt><dd id="detail-comment">${esc(rec.comment || "–")}</dd>
      <dt>${esc(t("params"))}</dt><dd>${esc(Object.entries(rec.params || {}).map(([k, v]) => `${k} = ${v}`).join(", ") || "–")}</dd>
      <dt>${esc(t("evidence"))}</dt><dd id="evidence">${evidenceRows.map(([k, v]) => `${esc(code("evidence", k))}: <span class="num">${esc(typeof v === "number" ? num(v, 2) : JSON.stringify(v))}</span>`).join("<br>") || "–"}</dd></dl>
      ${operator ? `<div class="toolbar">${NEXT[rec.status].map((s) => `<button type="button" class="act primary" data-status="${s}">${esc(t(VERB[s]))}</button>`).join(" ")}
        ${assignOk ? `<button type="button" id="assign">${esc(t("assign"))}</button>` : ""}
        ${commentOk ? `<button type="button" id="add-comment">${esc(t("comment"))}</button>` : ""}</div>` : ""}</div>
      <div class="card"><h3>${esc(t("evidence"))}</h3>${ev && ev.days.length ? `<div class="chart small" id="evidence-chart"></div>` : `<p class="muted">${esc(t("none"))}</p>`}</div></div>
    ${history ? `<h3>${esc(t("history"))}</h3>${table(["when", "who", "what", "comment"], history, (h, c) => ({
      when: esc(when(h.at)), who: esc(h.actor), what: esc(h.action === "status" ? `${status(h.from)} → ${status(h.to)}` : h.action === "assign" ? `${t("assign_to")} ${h.to || h.assigned_to || "–"}` : t(h.action === "comment" ? "comment" : h.action === "created" ? "created" : h.action)),
      comment: esc(h.comment || "")}[c]), {id: "history"})}` : ""}`;
  main.dataset.status = rec.status;
  if (ev && ev.days.length && $("#evidence-chart")) {
    const [a, b] = ev.series;
    const mk = ev.marked && ev.marked.length ? [String(ev.marked[0]).slice(5), String(ev.marked[ev.marked.length - 1]).slice(5)] : null;
    daysChart($("#evidence-chart"), {days: ev.days, bars: b ? b.values : null, barName: b ? code("evidence", b.name === "consumption" ? "delta" : b.name) : "",
      line: a.values, lineName: code("quantity", a.name), unit: a.unit, marked: mk});
  }
  $$("button.act").forEach((b) => {
    b.onclick = async () => {
      const comment = await commentDialog(b.dataset.status, 1);
      if (comment === null) return;
      try { await post(`/api/anomalies/${id}/status`, {status: b.dataset.status, comment}); ctx.reload(); } catch (e) { toast(e.message, true); }
    };
  });
  const asg = $("#assign");
  if (asg) asg.onclick = async () => {
    const who = users ? `<select name="assigned_to" id="assign-to">${option("", "–")}${users.filter((u) => u.active && u.role !== "viewer").map((u) => option(u.username, u.display_name ? `${u.display_name} (${u.username})` : u.username, u.username === rec.assigned_to)).join("")}</select>`
      : `<input name="assigned_to" id="assign-to" maxlength="64" value="${esc(rec.assigned_to || "")}">`;
    const v = await dialog(t("assign"), `<label>${esc(t("assign_to"))}${who}</label>
      <label>${esc(t("comment"))}<textarea name="comment" maxlength="2000"></textarea></label>`, {okText: t("assign")});
    if (!v) return;
    try { await post(`/api/anomalies/${id}/assign`, {assigned_to: v.assigned_to || null, comment: v.comment || ""}); ctx.reload(); } catch (e) { toast(e.message, true); }
  };
  const cm = $("#add-comment");
  if (cm) cm.onclick = async () => {
    const v = await dialog(t("comment"), `<label>${esc(t("comment"))}<textarea name="comment" id="comment" maxlength="2000"></textarea></label>`,
      {validate: (x) => (String(x.comment || "").trim() ? null : t("comment_needed"))});
    if (!v) return;
    try { await post(`/api/anomalies/${id}/comments`, {comment: v.comment.trim()}); ctx.reload(); } catch (e) { toast(e.message, true); }
  };
}
