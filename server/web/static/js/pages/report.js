// The collection report (采集成功率报表): a day or a month, grouped by organisation, area,
// concentrator, protocol or customer class; the threshold line and every group under it
// marked; first-pass rate beside the rate after re-reading; curve completeness; the 30-day
// trend with the previous 30 days; drill-down to the meters of a group; the concentrators
// off line now as an alert line; months side by side
// (its own module, ./months.js); on a day report, the
// curves that can still be re-read from DL/T 698.45 meters (曲线补抄, by area, operators).
// Data: GET /api/reports/collection (+ /trend) where the server has it, else the older
// GET /api/completeness/report, /api/completeness/trend and /api/curve-completeness.
import {api, can, has} from "../api.js";
import {groupBars, trendChart} from "../charts.js";
import {outcomeLink, rereadCurves} from "../curvereread.js";
import {ago, code, day, int, num, pct, status, t} from "../i18n.js";
import months, {reportTabs} from "./months.js";
import {$, $$, bindPrint, esc, exportButtons, isDay, option, printButton, printTitle, shiftDay, table, toast} from "../ui.js";

export const refresh = 120;
const BY = ["all", "org", "area", "gateway", "protocol", "customer_class"];

function groupName(by, g) {
  if (by === "protocol" || by === "customer_class") return code(by, g.key);
  if (by === "all") return t("by_all");
  return g.name && g.name !== g.key ? `${g.name} (${g.key})` : g.key;
}

export default async function report(ctx) {
  const {main, q} = ctx;
  if (q.get("period") === "months") return months(ctx);
  const period = q.get("period") === "month" ? "month" : "day";
  const by = BY.includes(q.get("by")) ? q.get("by") : "area";
  const modern = await has("/api/reports/collection?by=all&limit=1");
  const params = new URLSearchParams({period, by, limit: "1000"});
  if (period === "day" && isDay(q.get("date"))) params.set("date", q.get("date"));
  if (period === "month" && /^\d{4}-\d{2}$/.test(q.get("month") || "")) params.set("month", q.get("month"));
  let rep, trend;
  if (modern) {
    rep = await api("/api/reports/collection?" + params.toString());
    // the trend ends with the report's last day, never after yesterday (the server's default)
    const today = new Intl.DateTimeFormat("sv-SE").format(new Date());
    const end = (rep.end || rep.date) < today ? `&end=${rep.end || rep.date}` : "";
    trend = await api(`/api/reports/collection/trend?days=60${end}`);
  } else {
    // the older endpoints: one day, no per-group first-pass or previous period
    const d = params.get("date") || "";
    const [r, tr, cc] = await Promise.all([
      api("/api/completeness/report" + (d ? `?date=${d}` : "")),
      api("/api/completeness/trend?days=60"),
      api(`/api/curve-completeness?by=${by === "org" ? "area" : by}` + (d ? `&date=${d}` : "")),
    ]);
    const curves = Object.fromEntries(cc.groups.map((g) => [g.key, g]));
    const all = r.groups.all[0] || {due: 0, read: 0, rate: null};
    const firstRead = all.read - (r.reread.recovered || 0);
    rep = {
      period: "day", start: r.date, end: r.date, date: r.date, by, threshold: 0.98,
      summary: {...all, read_first: firstRead, rate_first: all.due ? firstRead / all.due : null},
      reread: r.reread,
      items: (r.groups[by === "org" ? "area" : by] || []).map((g) => ({...g,
        curve_points: curves[g.key] ? Number(curves[g.key].points) : null,
        curve_expected: curves[g.key] ? curves[g.key].expected : null,
        curve_rate: curves[g.key] && curves[g.key].expected ? Number(curves[g.key].points) / curves[g.key].expected : null})),
    };
    rep.total = rep.items.length;
    trend = {threshold: 0.98, items: tr.days};
  }
  // alert: the concentrators off line now (the clerk's first call of the day)
  const offline = modern ? await api("/api/concentrators?online=false&limit=5").catch(() => null) : null;
  const alert = offline && offline.total ? `<p class="alert" id="alert-offline" role="status"><strong>${esc(t("alert_offline", {n: int(offline.total)}))}</strong>
    ${offline.items.map((g) => `<a href="#/gateways/${encodeURIComponent(g.id)}" class="offline-gw">${esc(g.id)}</a> <small class="muted">${esc(t("last_seen"))} ${esc(ago(g.last_seen))}</small>`).join(" · ")}
    ${offline.total > offline.items.length ? "…" : ""} <a href="#/gateways?online=false" id="alert-offline-all">${esc(t("alert_offline_all"))} →</a></p>` : "";
  const th = rep.threshold ?? 0.98;
  const days = trend.items.slice(-30), previous = trend.items.length > 30 ? trend.items.slice(0, trend.items.length - 30).slice(-30) : null;
  const s = rep.summary || {};
  const when = period === "day" ? (rep.date || rep.start) : (rep.month || String(rep.start).slice(0, 7));
  const change = s.previous && s.rate !== null && s.previous.rate !== null ? (s.rate - s.previous.rate) * 100 : null;
  const exp = modern ? await exportButtons("report", "/api/reports/collection", params, `collection-${when}-${by}`)
    : await exportButtons("report", "/api/completeness", new URLSearchParams({by: by === "org" ? "area" : by, date: rep.date}), `collection-${when}-${by}`);
  const failedLink = (g) => {
    const p = new URLSearchParams({date: rep.date || rep.end});
    if (by === "area") p.set("area_id", g.key);
    if (by === "gateway") p.set("gateway_id", g.key);
    if (by === "org") p.set("org_id", g.key);
    if (by === "protocol") p.set("protocol", g.key);
    return `#/failed?${p.toString()}`;
  };
  // drill-down: the group's meters not read (GET /api/reports/collection/meters), or the
  // failed list filtered to the group where the server has no drill-down
  const key = q.get("key");
  let drilled = null;
  if (modern && key && by !== "all") {
    const dp = new URLSearchParams({period, by, key, read: "false", limit: "200"});
    if (params.get("date")) dp.set("date", params.get("date"));
    if (params.get("month")) dp.set("month", params.get("month"));
    drilled = await api("/api/reports/collection/meters?" + dp.toString());
  }
  // the day's curves that can still be re-read from the meters (曲线补抄), by area
  const curves = period === "day" ? await api(`/api/curve-completeness?by=area&date=${rep.date || rep.start}`).catch(() => null) : null;
  const cr = curves && curves.curve_reread && curves.curve_reread.within_history ? curves.curve_reread : null;
  const crArea = q.get("curve_area") || "";
  const crShown = cr ? cr.meters.filter((m) => !crArea || m.area_id === crArea) : [];
  const crAreas = cr ? [...new Set(cr.meters.map((m) => m.area_id))] : [];
  const crAsk = crShown.filter((m) => !["pending", "sent"].includes(m.reread_status)).map((m) => m.meter_id);
  const drill = (g) => (modern && by !== "all" ? `#/report?${new URLSearchParams({...Object.fromEntries(q.entries()), key: g.key}).toString()}` : failedLink(g));
  const hasFirst = rep.items.some((g) => g.rate_first !== undefined);
  const hasPrev = rep.items.some((g) => g.previous);
  const cols = [["group", "group"], ["due", "due"], ["read", "read"], ["failed", "failed_n"]];
  if (hasFirst) cols.push(["rate_first", "first_pass"]);
  cols.push(["rate", hasFirst ? "after_reread" : "rate"]);
  if (hasPrev) cols.push(["previous", "prev_period"], ["change", "change_pp"]);
  if (period === "day") cols.push(["curve_rate", "curve_complete"]);
  cols.push(["drill", "actions"]);
  main.innerHTML = `${printTitle(t("report_title"), `${period === "day" ? day(when) : when} · ${t("group_by")} ${t("by_" + by)}`)}
    <h2>${esc(t("report_title"))}</h2>
    ${alert}
    <div class="toolbar">
      ${reportTabs(period, by, modern)}
      ${period === "day" ? `<label>${esc(t("date"))}<input type="date" id="report-date" value="${esc(rep.date || rep.start)}"></label>`
        : modern ? `<label>${esc(t("month_pick"))}<input type="month" id="report-month" value="${esc(when)}"></label>` : ""}
      <label>${esc(t("group_by"))}<select id="report-by">${BY.filter((b) => modern || b !== "org").map((b) => option(b, t("by_" + b), b === by)).join("")}</select></label>
      ${exp.html} ${printButton()}</div>
    ${period === "month" && rep.days ? `<p class="muted" id="report-covers">${esc(t(rep.complete ? "covers_whole" : "covers_month",
      {a: day(rep.start), b: day(rep.end), n: rep.days, m: Number(String(rep.period_end).slice(8, 10))}))}</p>` : ""}
    <div class="cards">
      <div class="card"><div class="label">${esc(t("first_pass"))} · ${esc(period === "day" ? day(when) : when)}</div>
        <div class="big ${s.rate_first < th ? "below" : "good"}" id="rate-first">${esc(pct(s.rate_first, 2))}</div></div>
      <div class="card"><div class="label">${esc(t("after_reread"))}</div>
        <div class="big ${s.rate < th ? "below" : "good"}" id="rate-yesterday">${esc(pct(s.rate, 2))}</div>
        <div class="muted">${esc(t("threshold"))} ${esc(pct(th))}${change !== null ? ` · ${esc(t("change"))} ${change >= 0 ? "+" : ""}${esc(num(change, 2))} ${esc(t("pp"))}` : ""}</div></div>
      <div class="card"><div class="label">${esc(t("read"))} / ${esc(t("due"))}</div>
        <div class="big" id="due-read">${esc(int(s.read))} / ${esc(int(s.due))}</div>
        <div class="muted">${esc(t("failed_n"))} ${esc(int((s.due || 0) - (s.read || 0)))}</div></div>
      ${rep.reread ? `<div class="card"><div class="label">${esc(t("reread"))}</div><div id="reread-tally">${esc(t("reread_tally", {r: int(rep.reread.requested), c: int(rep.reread.recovered)}))}</div></div>` : ""}
    </div>
    <h3>${esc(t("trend30"))}</h3><div class="chart" id="trend-chart" role="img" aria-label="${esc(t("trend30"))}"></div>
    <h3>${esc(t("by_" + by))} <small class="muted">(${esc(t("below"))}: <span id="below-count">${rep.items.filter((g) => g.below_threshold).length}</span>)</small></h3>
    ${by !== "all" && rep.items.length ? `<div class="chart small" id="groups-chart"></div>` : ""}
    ${table(cols, rep.items, (g, c) => ({
      group: `<span class="group" data-key="${esc(g.key)}">${esc(groupName(by, g))}</span>${g.below_threshold ? ` <span class="badge open">${esc(t("below"))}</span>` : ""}`,
      due: esc(int(g.due)), read: esc(int(g.read)), failed: esc(int(g.due - g.read)),
      rate_first: esc(pct(g.rate_first, 2)),
      rate: `<span class="rate ${g.below_threshold ? "below" : ""}" data-key="${esc(g.key)}">${esc(pct(g.rate, 2))}</span>`,
      previous: esc(pct(g.previous?.rate, 2)),
      change: g.change === null || g.change === undefined ? "–" : `<span class="${g.change < 0 ? "bad" : "good"}">${g.change >= 0 ? "+" : ""}${esc(num(100 * g.change, 2))}</span>`,
      curve_rate: esc(pct(g.curve_rate, 1)),
      drill: g.due > g.read ? `<a class="drill" href="${drill(g)}" data-key="${esc(g.key)}">${esc(t("drill"))}</a>` : "",
    }[c]), {id: "report-table", rowAttrs: (g) => (g.below_threshold ? 'class="below"' : "")})}
    ${drilled ? `<h3 id="drill-title">${esc(t("drill"))}: ${esc(groupName(by, rep.items.find((g) => g.key === key) || {key}))}
      <small><a href="${failedLink({key})}">${esc(t("nav_failed"))} →</a></small></h3>
      ${table(["meter", "customer", "address", "gateway", "protocol", "due", "read", "read_first"], drilled.items, (m, c) => ({
        meter: `<a class="drill-meter" href="#/meters/${encodeURIComponent(m.meter_id)}">${esc(m.meter_id)}</a>`, customer: esc(m.customer_name || "–"),
        address: esc(m.address), gateway: esc(m.gateway_id), protocol: esc(code("protocol", m.protocol)),
        due: esc(int(m.due_days)), read: esc(int(m.read_days)), read_first: esc(int(m.read_first_days))}[c]), {id: "drill-table"})}` : ""}
    ${cr ? `<section id="curve-reread" class="no-print"><h3>${esc(t("curve_reread"))} · ${esc(day(rep.date || rep.start))}
        <small class="muted">${esc(t("curve_reread_title", {n: cr.history_days}))}</small></h3>
      ${cr.total ? `<div class="chips" id="curve-areas">${[["", `${t("all")} (${int(cr.total)})`], ...crAreas.map((a) => [a, `${a} (${int(cr.meters.filter((m) => m.area_id === a).length)})`])]
        .map(([a, text]) => `<button type="button" class="cat ${crArea === a ? "active" : ""}" data-area="${esc(a)}">${esc(text)}</button>`).join("")}</div>
      <div class="toolbar">${can("operator") ? `<button type="button" class="primary" id="curve-reread-all" ${crAsk.length ? "" : "disabled"}>${esc(t("curve_reread_all", {n: int(crAsk.length)}))}</button>` : ""}
        ${outcomeLink()}${cr.total > cr.meters.length ? ` <span class="muted">${esc(t("curve_reread_more", {n: int(cr.total), m: int(cr.meters.length)}))}</span>` : ""}</div>
      ${table(["meter", "area", "gateway", "curve_points", "reread_state"], crShown, (m, c) => ({
        meter: `<a href="#/meters/${encodeURIComponent(m.meter_id)}?date=${esc(rep.date || rep.start)}">${esc(m.meter_id)}</a>`, area: esc(m.area_id), gateway: esc(m.gateway_id),
        curve_points: `${esc(int(m.points))} / ${esc(int(m.expected))}`,
        reread_state: m.reread_status ? `<span class="badge ${esc(m.reread_status)} curve-state" data-meter="${esc(m.meter_id)}" data-state="${esc(m.reread_status)}">${esc(status(m.reread_status))}</span>` : `<span class="muted">${esc(t("no_reread"))}</span>`,
      }[c]), {id: "curve-reread-table"})}` : `<p class="muted">${esc(t("curve_reread_none"))}</p>`}</section>` : ""}`;
  exp.bind();
  bindPrint();
  $$("#curve-areas button").forEach((b) => { b.onclick = () => ctx.go({curve_area: b.dataset.area}); });
  const cb = $("#curve-reread-all");
  if (cb) cb.onclick = async () => {
    cb.disabled = true;
    try { toast(await rereadCurves(crAsk, rep.date || rep.start)); ctx.reload(); } catch (e) { toast(e.message, true); cb.disabled = false; }
  };
  trendChart($("#trend-chart"), days, th, {previous});
  if ($("#groups-chart")) groupBars($("#groups-chart"), rep.items.slice(0, 40), th, (g) => groupName(by, g));
  const d = $("#report-date");
  if (d) d.onchange = () => isDay(d.value) && ctx.go({date: d.value});
  const m = $("#report-month");
  if (m) m.onchange = () => m.value && ctx.go({month: m.value});
  $("#report-by").onchange = (ev) => ctx.go({by: ev.target.value});
  // the previous day's report is one click away
  main.dataset.date = rep.date || rep.start;
  main.dataset.prev = shiftDay(rep.date || rep.start, -1);
}
