// A meter's page: its archive card, 召测 with the values as they arrive, the load curve and
// voltage / current / power per phase of one data date on a 00:00–24:00 axis (utility time
// zone), daily consumption by tariff, the day's daily-freeze readings (a day whose only
// reading is its freeze no longer looks empty), the other raw readings (paged), events and
// the meter's anomalies.
import {api, can, param} from "../api.js";
import {dayCurves, daysChart} from "../charts.js";
import {code, day, kwh, num, status, t, when} from "../i18n.js";
import {editMeter} from "../archive_edit.js";
import {outcomeLink, rereadCurves, todayIn} from "../curvereread.js";
import {readNow} from "../readnow.js";
import {$, esc, isDay, pager, shiftDay, table, toast} from "../ui.js";

const TARIFFS = ["energy_import_total", "energy_import_t1", "energy_import_t2", "energy_import_t3", "energy_import_t4"];
const TARIFF_WORD = {energy_import_total: ["总", "Total"], energy_import_t1: ["尖", "T1 sharp"], energy_import_t2: ["峰", "T2 peak"],
  energy_import_t3: ["平", "T3 flat"], energy_import_t4: ["谷", "T4 valley"]};
const PAGE = 50, EPAGE = 20;

export default async function meter(ctx) {
  const {main, q, arg: id} = ctx;
  const m = encodeURIComponent(id);
  const zh = ctx.lang === "zh";
  const rOff = Math.max(0, Number(q.get("roffset")) || 0), eOff = Math.max(0, Number(q.get("eoffset")) || 0);
  const chosen = isDay(q.get("date")) ? q.get("date") : "";
  const [card, raw] = await Promise.all([
    api(`/api/meters/${m}`),
    api(`/api/meters/${m}/readings?limit=${PAGE}&offset=${rOff}` + (chosen ? `&date=${chosen}` : "")),
  ]);
  const d = raw.date;
  const range = `start=${encodeURIComponent(raw.start)}&end=${encodeURIComponent(raw.end)}`;
  const curveOf = (qn) => api(`/api/meters/${m}/curve?quantity=${qn}&${range}&limit=2000`);
  const QS = ["power_active_total", "voltage_a", "voltage_b", "voltage_c", "current_a", "current_b", "current_c", "power_active_a", "power_active_b", "power_active_c"];
  const [curves, latest, freeze, events, anomalies] = await Promise.all([
    Promise.all(QS.map(curveOf)),
    api(`/api/meters/${m}/latest`),
    api(`/api/meters/${m}/freeze?start=${shiftDay(d, -31)}&end=${d}`),
    api(`/api/meters/${m}/events?date=${d}&days=31&limit=${EPAGE}&offset=${eOff}`),
    api(`/api/anomalies?${await param("/api/anomalies", "meter_id", "meter")}=${m}&limit=50`),
  ]);
  const hm = new Intl.DateTimeFormat("en-GB", {timeZone: raw.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
  const minute = (ts) => { const [h, mm] = hm.format(new Date(ts)).split(":").map(Number); return h * 60 + mm; };
  const local = new Intl.DateTimeFormat("sv-SE", {timeZone: raw.timezone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
  const at = (ts) => local.format(new Date(ts));
  const byQ = Object.fromEntries(QS.map((qn, i) => [qn, curves[i].points.map((p) => [minute(p.ts), p.value])]));
  // daily consumption by tariff: each day's freeze minus the day before's
  const byDay = {};
  freeze.freezes.forEach((f) => { (byDay[f.data_date] = byDay[f.data_date] || {})[f.quantity] = f.value; });
  const daily = [];
  for (let k = 30; k >= 0; k--) {
    const x = shiftDay(d, -k), p = byDay[shiftDay(x, -1)], c = byDay[x];
    if (!c && !p) continue;
    const row = {date: x};
    TARIFFS.forEach((qn) => { row[qn] = c && p && c[qn] !== undefined && p[qn] !== undefined ? c[qn] - p[qn] : null; });
    daily.push(row);
  }
  const today = daily.find((r) => r.date === d);
  const dayFreeze = freeze.freezes.filter((f) => f.data_date === d);
  const rp = pager("raw", raw, (o) => ctx.go({date: d, roffset: o}));
  const ep = pager("events", events, (o) => ctx.go({date: d, eoffset: o}));
  const dl = (r) => ({date: r.date, ...Object.fromEntries(TARIFFS.map((x) => [x, r[x]]))});
  const tariffCols = TARIFFS.map((x) => [x, `<span>${esc(TARIFF_WORD[x][zh ? 0 : 1])} (kWh)</span>`]);
  // quality flags in words; "unverified" (an ESAM meter's plaintext + MAC) marked, the MAC and RN
  // in its tooltip: only the utility's security module can verify them
  const flags = (r) => (r.quality || []).map((x) => x === "unverified"
    ? `<span class="badge unverified" title="${esc(t("unverified_tip", {mac: r.mac || "–", rn: r.rn || "–"}))}">${esc(code("quality", x))}</span>`
    : esc(code("quality", x))).join(", ");
  // 曲线补抄: a past day (within the meters' 10-day curve history) whose curve lacks points,
  // of a meter that keeps one (DL/T 698.45); operators only
  const age = (Date.parse(todayIn(raw.timezone)) - Date.parse(d)) / 86400000;
  const missing = 96 - byQ.power_active_total.length;
  const curveReread = can("operator") && card.protocol === "dlt698" && card.gateway_id && age >= 1 && age <= 10 && missing > 0;
  const phaseChart = (id2, title) => `<div><h3>${esc(t(title))}</h3><div class="chart small" id="${id2}"></div></div>`;
  const edit = editMeter(card, () => ctx.reload());
  main.innerHTML = `<h2>${esc(t("meter_title"))} ${esc(id)} <small class="muted">${esc(card.customer_name || "")}</small></h2>
    <div class="grid2">
      <div class="card" id="archive-card"><h3>${esc(t("archive_card"))} ${edit.html}</h3><dl class="archive">
        <dt>${esc(t("address"))}</dt><dd id="card-address">${esc(card.address)}</dd>
        <dt>${esc(t("protocol"))}</dt><dd id="card-protocol">${esc(code("protocol", card.protocol))}${card.modbus_profile ? ` · ${esc(card.modbus_profile)} #${esc(card.modbus_unit)}` : ""}</dd>
        <dt>${esc(t("ct_pt"))}</dt><dd id="card-ctpt">${esc(num(card.ct_ratio, 0))} / ${esc(num(card.pt_ratio, 0))}</dd>
        <dt>${esc(t("area"))}</dt><dd>${esc(card.area_id || "–")}</dd>
        <dt>${esc(t("gateway"))}</dt><dd><a href="#/gateways/${encodeURIComponent(card.gateway_id || "")}">${esc(card.gateway_id || "–")}</a>${card.bus ? ` · ${esc(card.bus)}` : ""}</dd>
        <dt>${esc(t("customer_class"))}</dt><dd>${esc(code("customer_class", card.customer_class))}${card.is_area_master ? ` · ${esc(t("master"))}` : ""}</dd>
        <dt>${esc(t("account"))}</dt><dd>${esc(card.customer_account || "–")}</dd>
        <dt>${esc(t("customer_address"))}</dt><dd>${esc(card.customer_address || "–")}</dd>
        <dt>${esc(t("phases"))}</dt><dd>${esc(card.phases ?? "–")}</dd>
        <dt>${esc(t("installed_on"))}</dt><dd id="card-installed">${esc(day(card.installed_on))}</dd></dl></div>
      <div class="card"><h3>${esc(t("read_now_title"))}</h3>
        ${can("operator") && card.gateway_id ? `<button type="button" class="primary" id="read-now">${esc(t("read_now"))}</button>` : ""}
        <div id="read-now-out"></div>
        <p><a id="meter-commands-link" href="#/commands?meter_id=${encodeURIComponent(id)}">${esc(t("commands_of_meter"))} →</a></p>
        <h3>${esc(t("day_kwh"))} · ${esc(day(d))}</h3>
        <div class="big" id="day-kwh">${esc(today && today.energy_import_total !== null ? kwh(today.energy_import_total) : "–")}</div></div>
    </div>
    <div class="toolbar"><label for="meter-date">${esc(t("data_date"))}</label>
      <input type="date" id="meter-date" value="${esc(d)}"><span class="muted">${esc(raw.timezone)}</span></div>
    <h3>${esc(t("load_curve"))} · ${esc(day(d))}</h3>
    ${curveReread ? `<div class="toolbar no-print" id="curve-reread-box"><span class="muted">${esc(t("curve_missing", {n: missing}))}</span>
      <button type="button" id="curve-reread">${esc(t("curve_reread"))}</button><span id="curve-reread-result" role="status"></span></div>` : ""}
    ${byQ.power_active_total.length ? `<div class="chart" id="load-chart" data-points="${byQ.power_active_total.length}"></div>` : `<p class="muted" id="no-curve">${esc(t("no_curve"))}</p>`}
    <div class="grid2">${phaseChart("v-chart", "phase_v")}${phaseChart("i-chart", "phase_i")}</div>
    ${phaseChart("p-chart", "phase_p")}
    <h3>${esc(t("daily"))}</h3><div class="chart small" id="daily-chart"></div>
    <div id="daily">${table([["date", "date"], ...tariffCols], daily.map(dl), (r, c) =>
      c === "date" ? esc(day(r.date)) : `<span data-date="${esc(r.date)}" data-q="${esc(c)}"${r.date === d ? ' class="chosen"' : ""}>${esc(num(r[c], 2))}</span>`)}</div>
    <h3>${esc(t("freeze_day"))}</h3><div id="freeze-day">${table(["quantity", "value", "time", "source", "quality"], dayFreeze, (r, c) => ({
      quantity: esc(code("quantity", r.quantity)), value: `<span class="num">${esc(num(r.value, 2))}</span> kWh`,
      time: esc(r.freeze_ts ? at(r.freeze_ts) : "–"), source: esc(code("source", r.source)), quality: flags(r)}[c]))}</div>
    <h3>${esc(t("raw"))}</h3>${rp.html}<div id="raw">${raw.items.length ? table(["time", "quantity", "value", "kind", "source", "quality"], raw.items, (r, c) => ({
      time: esc(at(r.ts)), quantity: `<span title="${esc(r.quantity)}">${esc(code("quantity", r.quantity))}</span>`,
      value: `<span class="num">${esc(r.value)}</span>${r.unit ? " " + esc(r.unit) : ""}`, kind: esc(code("kind", r.kind)), source: esc(code("source", r.source)),
      quality: flags(r)}[c])) : `<p class="muted" id="raw-none">${esc(t("raw_none"))}</p>`}</div>
    <h3>${esc(t("events"))} <small class="muted">(${esc(t("events_window"))}: ${esc(day(events.from))} – ${esc(day(events.to))})</small></h3>
    ${ep.html}<div id="events">${table(["time", "quantity", "value"], events.items, (r, c) => ({
      time: esc(at(r.ts)), quantity: esc(code("quantity", r.quantity)), value: `<span class="num">${esc(r.value)}</span>${r.unit ? " " + esc(r.unit) : ""}`}[c]))}</div>
    <h3>${esc(t("meter_anomalies"))}</h3><div id="meter-anomalies">${table(["rule", "status", "first", "last", "detail"], anomalies.items, (r, c) => ({
      rule: esc(code("rule", r.rule)), status: `<span class="badge ${esc(r.status)}">${esc(status(r.status))}</span>`,
      first: esc(day(r.first_date)), last: esc(day(r.last_date)), detail: `<a href="#/anomalies/${r.id}">${esc(t("detail"))}</a>`}[c]))}</div>
    <h3>${esc(t("latest"))}</h3><div id="latest">${table(["quantity", "value", "time", "quality"], latest.values, (r, c) => ({
      quantity: esc(code("quantity", r.quantity)), value: esc(r.value), time: esc(at(r.ts)), quality: flags(r)}[c]))}</div>`;
  main.dataset.date = d;
  edit.bind();
  rp.bind();
  ep.bind();
  const $date = $("#meter-date");
  $date.onchange = () => isDay($date.value) && ctx.go({date: $date.value, roffset: "", eoffset: ""});
  const n = (qn) => code("quantity", qn);
  if ($("#load-chart")) dayCurves($("#load-chart"), [{name: n("power_active_total"), points: byQ.power_active_total}], "kW");
  dayCurves($("#v-chart"), ["a", "b", "c"].map((p) => ({name: n("voltage_" + p), points: byQ["voltage_" + p]})), "V");
  dayCurves($("#i-chart"), ["a", "b", "c"].map((p) => ({name: n("current_" + p), points: byQ["current_" + p]})), "A");
  dayCurves($("#p-chart"), ["a", "b", "c"].map((p) => ({name: n("power_active_" + p), points: byQ["power_active_" + p]})), "kW");
  daysChart($("#daily-chart"), {days: daily.map((r) => r.date), bars: daily.map((r) => r.energy_import_total), barName: n("energy_import_total"), unit: "kWh"});
  const crb = $("#curve-reread");
  if (crb) crb.onclick = async () => {
    crb.disabled = true;
    try {
      $("#curve-reread-result").innerHTML = `${esc(await rereadCurves([id], d))} · ${outcomeLink(id)}`;
    } catch (e) { toast(e.message, true); crb.disabled = false; }
  };
  const btn = $("#read-now");
  if (btn) btn.onclick = async () => {
    btn.disabled = true;
    try { await readNow(id, card.gateway_id, $("#read-now-out")); } catch (e) { toast(e.message, true); }
    btn.disabled = false;
  };
}
