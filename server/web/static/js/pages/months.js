// Months side by side (多月对比): the collection rate of each group (organisation, area,
// concentrator, protocol, customer class) over the last 2–12 months, first pass and after
// re-reading, every month under the threshold marked, the last month's change; the
// archive's line as a chart on a readable axis with the threshold. A tab of the collection
// report (#/report?period=months). Data: GET /api/reports/collection/months.
import {api} from "../api.js";
import {trendChart} from "../charts.js";
import {code, num, pct, t} from "../i18n.js";
import {$, bindPrint, esc, exportButtons, option, printButton, printTitle, table} from "../ui.js";

const BY = ["all", "org", "area", "gateway", "protocol", "customer_class"];
const COUNTS = [3, 6, 12];

// the report's tabs: a day, a month, months side by side
export function reportTabs(period, by, withMonths = true) {
  const tabs = [["day", "day"], ["month", "month"], ...(withMonths ? [["months", "months_tab"]] : [])];
  return `<div class="tabs">${tabs.map(([p, label]) =>
    `<a href="#/report?period=${p}&by=${esc(by)}" class="${period === p ? "active" : ""}" id="tab-${p}">${esc(t(label))}</a>`).join("")}</div>`;
}

function groupName(by, g) {
  if (by === "protocol" || by === "customer_class") return code(by, g.key);
  if (by === "all" || g.key === "all") return t("by_all");
  return g.name && g.name !== g.key ? `${g.name} (${g.key})` : g.key ?? "–";
}

export default async function months(ctx) {
  const {main, q} = ctx;
  const by = BY.includes(q.get("by")) ? q.get("by") : "area";
  const count = COUNTS.includes(Number(q.get("months"))) ? Number(q.get("months")) : 6;
  const params = new URLSearchParams({by, months: String(count), limit: "1000"});
  if (/^\d{4}-\d{2}$/.test(q.get("end") || "")) params.set("end", q.get("end"));
  const rep = await api("/api/reports/collection/months?" + params.toString());
  const th = rep.threshold ?? 0.98;
  const periods = rep.periods;
  const last = periods[periods.length - 1];
  const exp = await exportButtons("months", "/api/reports/collection/months", params, `collection-months-${last.month}-${by}`);
  const rows = by === "all" ? rep.items : [rep.summary, ...rep.items];
  const cell = (m) => `<span class="rate ${m.below_threshold ? "below" : ""}" data-month="${esc(m.month)}">${esc(pct(m.rate, 2))}</span>
    <small class="muted first" title="${esc(t("first_pass"))}">${esc(pct(m.rate_first, 2))}</small>`;
  const cols = [["group", "group"], ...periods.map((p) => [`m${p.month}`, `<span class="month-head">${esc(p.month)}${p.complete ? "" : " *"}</span>`]),
    ["change", "change_pp"]];
  main.innerHTML = `${printTitle(t("months_title"), `${periods[0].month} – ${last.month} · ${t("group_by")} ${t("by_" + by)}`)}
    <h2>${esc(t("report_title"))}</h2>
    <div class="toolbar">${reportTabs("months", by)}
      <label>${esc(t("months_to"))}<input type="month" id="months-end" value="${esc(last.month)}"></label>
      <label>${esc(t("months_n"))}<select id="months-count">${COUNTS.map((n) => option(String(n), String(n), n === count)).join("")}</select></label>
      <label>${esc(t("group_by"))}<select id="report-by">${BY.map((b) => option(b, t("by_" + b), b === by)).join("")}</select></label>
      ${exp.html} ${printButton()}</div>
    <p class="muted" id="months-legend">${esc(t("months_legend", {th: pct(th)}))}${last.complete ? "" : ` ${esc(t("months_partial", {m: last.month, n: last.days}))}`}</p>
    <h3>${esc(t("months_chart"))}</h3><div class="chart" id="months-chart" role="img" aria-label="${esc(t("months_chart"))}"></div>
    <h3>${esc(t("by_" + by))} <small class="muted">(${esc(t("below"))} ${esc(last.month)}: <span id="below-count">${rep.items.filter((g) => g.key !== "all" && g.below_threshold).length}</span>)</small></h3>
    ${table(cols, rows, (g, c) => {
      if (c === "group") return `<span class="group" data-key="${esc(g.key)}">${esc(groupName(by, g))}</span>${g.below_threshold ? ` <span class="badge open">${esc(t("below"))}</span>` : ""}`;
      if (c === "change") return g.change === null || g.change === undefined ? "–" : `<span class="${g.change < 0 ? "bad" : "good"}">${g.change >= 0 ? "+" : ""}${esc(num(100 * g.change, 2))}</span>`;
      const m = g.months.find((x) => `m${x.month}` === c);
      return m && m.due ? cell(m) : "–";
    }, {id: "months-table", rowAttrs: (g) => (g === rep.summary && by !== "all" ? 'class="summary"' : "")})}`;
  exp.bind();
  bindPrint();
  // on a narrow screen the table scrolls: show its newest months first
  const wrap = $("#months-table").closest(".table-wrap");
  wrap.scrollLeft = wrap.scrollWidth;
  trendChart($("#months-chart"), rep.summary.months.map((m) => ({date: m.month, due: m.due, rate: m.rate})), th, {label: (d) => d.date});
  $("#months-end").onchange = (ev) => ev.target.value && ctx.go({end: ev.target.value});
  $("#months-count").onchange = (ev) => ctx.go({months: ev.target.value});
  $("#report-by").onchange = (ev) => ctx.go({by: ev.target.value});
}
