// Line loss (线损) per area and day: supply, sales, loss rate against the high-loss and
// negative-loss thresholds, "not computable" with the meters that block it; an area's page
// (#/lineloss/<area>) has its trend and, for a high-loss area, the customers ranked as theft
// suspects (反窃电). Data: GET /api/line-loss/areas (+ detail, trend, suspects) where the
// server has them, else GET /api/line-loss (no blocking meters, trend or suspects).
import {api, has} from "../api.js";
import {daysChart} from "../charts.js";
import {day, int, kwh, num, pct, t} from "../i18n.js";
import {$, bindPrint, esc, exportButtons, isDay, option, printButton, printTitle, table} from "../ui.js";

export const refresh = 300;
const STATUS_WORD = {high: "loss_high", negative: "loss_negative", not_computable: "not_computable", normal: "loss_ok"};
const STATUS_CLS = {high: "bad", negative: "warn", not_computable: "muted", normal: "good"};
const SIGNALS = {consumption_dropped: ["用电量骤降", "consumption dropped"], zero_consumption: ["零度户", "zero consumption"],
  register_reversed: ["示数倒走", "register ran backwards"], register_stopped: ["电表停走", "register stopped"]};

export default async function lineloss(ctx) {
  const modern = await has("/api/line-loss/areas");
  return ctx.arg ? area(ctx, modern) : list(ctx, modern);
}

const badge = (s) => `<span class="loss-status ${STATUS_CLS[s] || ""}" data-status="${esc(s)}">${esc(t(STATUS_WORD[s] || s))}</span>`;

async function list(ctx, modern) {
  const {main, q} = ctx;
  const f = {};
  if (isDay(q.get("date"))) f.date = q.get("date");
  if (q.get("status")) f.status = q.get("status");
  let data;
  if (modern) data = await api("/api/line-loss/areas?" + new URLSearchParams({...f, limit: "1000"}).toString());
  else {
    const old = await api("/api/line-loss" + (f.date ? `?date=${f.date}` : ""));
    const rules = await api("/api/rule-params");
    const high = rules.rules.line_loss ? rules.rules.line_loss.general.max_ratio : 0.1;
    data = {date: old.date, high_threshold: high, negative_threshold: 0, items: old.areas.map((a) => {
      const s = a.loss === null ? "not_computable" : a.loss > high ? "high" : a.loss < 0 ? "negative" : "normal";
      return {...a, name: a.area_id, loss_rate: a.loss, loss: a.supply !== null && a.sales !== null ? a.supply - a.sales : null,
        status: s, blocking: a.due - a.read};
    }).filter((a) => !f.status || a.status === f.status)};
  }
  const date = data.date || f.date;
  const exp = await exportButtons("lineloss", modern ? "/api/line-loss/areas" : "/api/line-loss", new URLSearchParams(f), `line-loss-${date}`);
  main.innerHTML = `${printTitle(t("lineloss_title"), `${day(date)} · ${f.status ? t(STATUS_WORD[f.status]) : t("all")}`)}
    <h2>${esc(t("lineloss_title"))} · ${esc(day(date))}</h2>
    <form class="toolbar" id="loss-filters"><label>${esc(t("date"))}<input type="date" name="date" value="${esc(date)}"></label>
      <label>${esc(t("status"))}<select name="status">${option("", t("all"))}${Object.keys(STATUS_WORD).map((s) => option(s, t(STATUS_WORD[s]), s === f.status)).join("")}</select></label>
      <button class="primary" type="submit">${esc(t("apply"))}</button> ${exp.html} ${printButton()}
      <span class="muted">${esc(t("high_limit"))} ${esc(pct(data.high_threshold))} · ${esc(t("loss_negative"))} &lt; ${esc(pct(data.negative_threshold ?? 0))}</span></form>
    ${table(["area", "supply", "sales", "loss", "status", "due", "read", "blocking", "detail"], data.items, (a, c) => ({
      area: `<a href="#/lineloss/${encodeURIComponent(a.area_id)}${date ? `?date=${date}` : ""}">${esc(a.name && a.name !== a.area_id ? `${a.name} (${a.area_id})` : a.area_id)}</a>`,
      supply: esc(kwh(a.supply)), sales: esc(kwh(a.sales)),
      loss: `<span class="loss-rate" data-area="${esc(a.area_id)}">${esc(pct(a.loss_rate, 2))}</span>`,
      status: badge(a.status), due: esc(int(a.due)), read: esc(int(a.read)), blocking: esc(int(a.blocking)),
      detail: `<a href="#/lineloss/${encodeURIComponent(a.area_id)}${date ? `?date=${date}` : ""}">${esc(t(a.status === "high" ? "suspects" : "detail"))}</a>`,
    }[c]), {id: "loss-table", rowAttrs: (a) => (a.status === "high" ? 'class="below"' : "")})}`;
  exp.bind();
  bindPrint();
  $("#loss-filters").onsubmit = (ev) => {
    ev.preventDefault();
    ctx.go(Object.fromEntries(new FormData(ev.target).entries()));
  };
}

async function area(ctx, modern) {
  const {main, q, arg: id} = ctx;
  const d = isDay(q.get("date")) ? q.get("date") : "";
  const a = encodeURIComponent(id);
  if (!modern) {
    const old = await api("/api/line-loss" + (d ? `?date=${d}` : ""));
    const row = old.areas.find((x) => x.area_id === id);
    main.innerHTML = `<p><a href="#/lineloss">← ${esc(t("lineloss_title"))}</a></p><h2>${esc(id)}</h2>
      ${row ? `<p>${esc(t("supply"))} ${esc(kwh(row.supply))} · ${esc(t("sales"))} ${esc(kwh(row.sales))} · ${esc(t("loss"))} ${esc(pct(row.loss, 2))}</p>` : ""}
      <p class="muted">${esc(t("none"))}</p>`;
    return;
  }
  const qs = d ? `?date=${d}` : "";
  const det = await api(`/api/line-loss/areas/${a}${qs}`);
  const date = det.date || d;
  const [trend, suspects] = await Promise.all([
    api(`/api/line-loss/areas/${a}/trend?end=${date}&days=30`),
    det.status === "high" || q.get("suspects") ? api(`/api/line-loss/areas/${a}/suspects?date=${date}&limit=50`) : null,
  ]);
  const zh = ctx.lang === "zh";
  main.innerHTML = `${printTitle(t("lineloss_title"), `${det.name || id} (${id}) · ${day(date)}`)}
    <p class="no-print"><a href="#/lineloss?date=${esc(date)}">← ${esc(t("lineloss_title"))}</a> ${printButton()}</p>
    <h2>${esc(det.name || id)} · ${esc(day(date))} ${badge(det.status)}</h2>
    <div class="cards"><div class="card"><div class="label">${esc(t("supply"))}</div><div class="big">${esc(kwh(det.supply))}</div></div>
      <div class="card"><div class="label">${esc(t("sales"))}</div><div class="big">${esc(kwh(det.sales))}</div></div>
      <div class="card"><div class="label">${esc(t("loss"))}</div><div class="big ${STATUS_CLS[det.status] || ""}" id="area-loss">${esc(pct(det.loss_rate, 2))}</div></div></div>
    <h3>${esc(t("loss_trend"))}</h3><div class="chart small" id="loss-chart"></div>
    ${det.blocking_meters && det.blocking_meters.length ? `<h3>${esc(t("blocking"))}</h3>${table(["meter", "master", "reason"], det.blocking_meters, (m, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(m.meter_id)}">${esc(m.meter_id)}</a>`, master: esc(m.is_area_master ? t("yes") : t("no")), reason: esc(m.why)}[c]), {id: "blocking"})}` : ""}
    ${suspects ? `<h3>${esc(t("suspects"))}</h3>${table(["meter", "customer", "score", "suspect_reason", "recent", "baseline"], suspects.items, (s, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(s.meter_id)}">${esc(s.meter_id)}</a>`, customer: esc(s.customer_name || ""),
      score: `<span class="score" data-meter="${esc(s.meter_id)}">${esc(num(s.score, 2))}</span>`,
      suspect_reason: esc((s.signals || []).map((x) => (SIGNALS[x] ? SIGNALS[x][zh ? 0 : 1] : x)).join(zh ? "；" : "; ")),
      recent: esc(kwh(s.recent_kwh_per_day ?? s.recent_kwh)), baseline: esc(kwh(s.baseline_kwh_per_day ?? s.baseline_kwh))}[c]), {id: "suspects"})}` : ""}`;
  bindPrint();
  daysChart($("#loss-chart"), {days: trend.items.map((x) => x.date), line: trend.items.map((x) => x.loss_rate), lineName: t("loss"), unit: "%",
    fmt: (v) => pct(v, 1), limits: [{value: trend.high_threshold ?? det.high_threshold ?? 0.1, label: t("high_limit")}, {value: 0, label: t("loss_negative"), color: "#a15c00"}]});
}
