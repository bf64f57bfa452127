// Failed meters (采集失败清单) of any day: filters (organisation, area, concentrator,
// protocol, reason category), server paging, the categories a clerk acts on with their
// counts, consecutive failed days, bulk re-read (补抄) with each request's outcome kept by
// the server (so it is there after a reload) and 召测 of one meter.
// Data: GET /api/workbench/failed (reason_text in the dashboard's language) + POST /api/reread/batches where the server has them,
// else GET /api/failed-meters (categories from its reason text) + POST /api/reread.
import {api, can, has, post} from "../api.js";
import {code, day, getLang, int, reason, status, t} from "../i18n.js";
import {readNow} from "../readnow.js";
import {$, $$, esc, exportButtons, isDay, option, pager, table, toast} from "../ui.js";

export const refresh = 60;
const CATS = ["concentrator_offline", "meter_not_answering", "wrong_answers", "not_rereadable", "archive_problem", "other"];
const CAT_WORD = {concentrator_offline: "cat_gateway_offline", meter_not_answering: "cat_meter_silent", wrong_answers: "cat_wrong_answers",
  not_rereadable: "cat_not_rereadable", archive_problem: "cat_archive", other: "cat_other"};
const PAGE = 50;

// the older endpoint's reason text -> a category
function category(text) {
  if (/never read since installed/.test(text)) return "archive_problem";
  if (/concentrator offline/.test(text)) return "concentrator_offline";
  if (/wrong answers/.test(text)) return "wrong_answers";
  if (/meter not answering/.test(text)) return "meter_not_answering";
  if (/cannot be re-read/.test(text)) return "not_rereadable";
  return "other";
}

export default async function failed(ctx) {
  const {main, q} = ctx;
  const modern = await has("/api/workbench/failed");
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const f = {};
  for (const k of ["date", "org_id", "area_id", "gateway_id", "protocol", "reason"]) if (q.get(k)) f[k] = q.get(k);
  if (f.date && !isDay(f.date)) delete f.date;
  const [areas, gws] = await Promise.all([api("/api/areas?limit=1000"), api("/api/gateways?limit=1000")]);
  let data, exportPath, exportParams;
  if (modern) {
    // the reasons' words in the dashboard's language (the server's lang rule, as the exports)
    const p = new URLSearchParams({...f, lang: getLang(), limit: String(PAGE), offset: String(off)});
    data = await api("/api/workbench/failed?" + p.toString());
    exportPath = "/api/workbench/failed";
    exportParams = new URLSearchParams(f);
  } else {
    // the older endpoint filters by area and concentrator only; the rest is done here
    const p = new URLSearchParams({limit: "100000"});
    if (f.date) p.set("date", f.date);
    if (f.area_id) p.set("area", f.area_id);
    if (f.gateway_id) p.set("gateway", f.gateway_id);
    const old = await api("/api/failed-meters?" + p.toString());
    let rows = old.items.map((r) => ({...r, reason: category(r.reason), reason_text: r.reason,
      rereadable: !/cannot be re-read/.test(r.reason),
      reread: r.reread_command ? {command_id: r.reread_command, status: r.reread_status} : null}));
    if (f.protocol) rows = rows.filter((r) => r.protocol === f.protocol);
    const byReason = {};
    rows.forEach((r) => { byReason[r.reason] = (byReason[r.reason] || 0) + 1; });
    if (f.reason) rows = rows.filter((r) => r.reason === f.reason);
    data = {date: old.date, items: rows.slice(off, off + PAGE), total: rows.length, limit: PAGE, offset: off, by_reason: byReason};
    exportPath = "/api/failed-meters";
    exportParams = p;
  }
  const date = data.date || f.date;
  const operator = can("operator");
  const pg = pager("failed", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("failed", exportPath, exportParams, `failed-meters-${date}`);
  const rereadCell = (r) => {
    if (!r.reread) return `<span class="muted">${esc(t("no_reread"))}</span>`;
    const st = r.reread.outcome || r.reread.status || "pending";
    return `<span class="badge ${esc(st)} reread-state" data-meter="${esc(r.meter_id)}" data-state="${esc(st)}">${esc(status(st))}</span>`;
  };
  const sel = (r) => (operator && r.rereadable !== false && !r.reread ? `<input type="checkbox" class="pick" value="${esc(r.meter_id)}" aria-label="${esc(r.meter_id)}">` : "");
  const cols = [...(operator ? [["pick", operator ? `<input type="checkbox" id="pick-all" aria-label="${esc(t("select_all"))}">` : ""]] : []),
    "meter", "customer", "area", "gateway", "protocol", "category", "reason", "days_failed", "last_good", "reread_state", ...(operator ? ["actions"] : [])];
  main.innerHTML = `<h2>${esc(t("failed_title"))} · <span id="failed-date">${esc(day(date))}</span></h2>
    <form class="toolbar" id="failed-filters">
      <label>${esc(t("date"))}<input type="date" name="date" id="f-date" value="${esc(date)}"></label>
      <label>${esc(t("area"))}<select name="area_id" id="f-area">${option("", t("all"))}${areas.items.map((a) => option(a.id, `${a.name} (${a.id})`, a.id === f.area_id)).join("")}</select></label>
      <label>${esc(t("gateway"))}<select name="gateway_id" id="f-gateway">${option("", t("all"))}${gws.items.map((g) => option(g.id, g.name ? `${g.name} (${g.id})` : g.id, g.id === f.gateway_id)).join("")}</select></label>
      <label>${esc(t("protocol"))}<select name="protocol" id="f-protocol">${option("", t("all"))}${["dlt645-2007", "dlt698", "dlt645-1997", "modbus"].map((p) => option(p, code("protocol", p), p === f.protocol)).join("")}</select></label>
      ${f.org_id ? `<input type="hidden" name="org_id" value="${esc(f.org_id)}">` : ""}
      <button type="submit" class="primary" id="f-apply">${esc(t("apply"))}</button>
      <button type="button" id="f-reset">${esc(t("reset"))}</button> ${exp.html}
      ${modern ? `<a href="#/reread" id="batches-link">${esc(t("batches_title"))}</a>` : ""}</form>
    <div class="chips" id="categories">${[["", t("all") + ` (${int(Object.values(data.by_reason || {}).reduce((a, b) => a + b, 0))})`],
      ...CATS.filter((c) => (data.by_reason || {})[c]).map((c) => [c, `${t(CAT_WORD[c])} (${int(data.by_reason[c])})`])].map(([c, text]) =>
      `<button type="button" class="cat ${(f.reason || "") === c ? "active" : ""}" data-cat="${esc(c)}">${esc(text)}</button>`).join("")}</div>
    ${operator ? `<div class="toolbar"><button type="button" class="primary" id="reread-selected" disabled>${esc(t("reread_selected"))}</button>
      <span id="picked" class="muted"></span><span id="reread-result" role="status"></span></div>` : ""}
    ${pg.html}
    ${table(cols, data.items, (r, c) => ({
      pick: sel(r),
      meter: `<a href="#/meters/${encodeURIComponent(r.meter_id)}">${esc(r.meter_id)}</a>`,
      customer: esc(r.customer_name || ""), area: esc(r.area_id), gateway: esc(r.gateway_id), protocol: esc(code("protocol", r.protocol)),
      category: `<span class="category" data-cat="${esc(r.reason)}">${esc(t(CAT_WORD[r.reason] || "cat_no_reading"))}</span>`,
      reason: `<span class="reason" title="${esc(r.reason_text)}">${esc(reason(r.reason_text))}</span>`,
      days_failed: esc(r.consecutive_days ?? "–"), last_good: esc(day(r.last_good_date)),
      reread_state: rereadCell(r),
      actions: `<button type="button" class="read-now" data-meter="${esc(r.meter_id)}" data-gateway="${esc(r.gateway_id)}">${esc(t("read_now"))}</button>`,
    }[c]), {id: "failed-table"})}
    <div id="read-now-out"></div>`;
  pg.bind();
  exp.bind();
  $("#failed-filters").onsubmit = (ev) => {
    ev.preventDefault();
    const n = {};
    for (const [k, v] of new FormData(ev.target).entries()) n[k] = v;
    ctx.go({...n, reason: f.reason || "", offset: ""});
  };
  $("#f-reset").onclick = () => { location.hash = "#/failed"; };
  $$("button.cat").forEach((b) => { b.onclick = () => ctx.go({reason: b.dataset.cat, offset: ""}); });
  $$("button.read-now").forEach((b) => {
    b.onclick = async () => {
      b.disabled = true;
      try { await readNow(b.dataset.meter, b.dataset.gateway, $("#read-now-out")); } catch (e) { toast(e.message, true); }
    };
  });
  if (!operator) return;
  const picks = () => $$("input.pick:checked").map((i) => i.value);
  const update = () => {
    const n = picks().length;
    $("#reread-selected").disabled = n === 0;
    $("#picked").textContent = n ? t("n_selected", {n}) : "";
    if (n) main.dataset.dirty = "1"; else delete main.dataset.dirty;
  };
  $$("input.pick").forEach((i) => { i.onchange = update; });
  $("#pick-all").onchange = (ev) => { $$("input.pick").forEach((i) => { i.checked = ev.target.checked; }); update(); };
  $("#reread-selected").onclick = async () => {
    const meters = picks();
    $("#reread-selected").disabled = true;
    try {
      const r = modern ? await post("/api/reread/batches", {items: meters.map((m) => ({meter_id: m, date}))})
        : await post("/api/reread", {items: meters.map((m) => ({meter: m, date}))});
      const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
      delete main.dataset.dirty;
      toast(t("reread_result", {r: sum(r.requested), p: sum(r.already_pending)}));
      ctx.reload();  // the outcomes come from the server
    } catch (e) {
      $("#reread-result").textContent = e.message;
      $("#reread-selected").disabled = false;
    }
  };
}
