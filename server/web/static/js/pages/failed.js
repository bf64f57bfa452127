// Failed meters (采集失败清单) of any day: filters (organisation, area, concentrator,
// protocol, reason category), server paging, the categories a clerk acts on with their
// counts, consecutive failed days, bulk re-read (补抄) with each request's outcome kept by
// the server (so it is there after a reload) and 召测 of one meter.
// Data: GET /api/workbench/failed (the reason category and reason_text in the dashboard's
// language, both the server's: the page guesses nothing) + POST /api/reread/batches.
import {api, can, post} from "../api.js";
import {code, day, getLang, int, status, t} from "../i18n.js";
import {readNow} from "../readnow.js";
import {$, $$, esc, exportButtons, isDay, option, pager, table, toast} from "../ui.js";

export const refresh = 60;
const CATS = ["concentrator_offline", "meter_not_answering", "wrong_answers", "not_rereadable", "archive_problem", "other"];
const CAT_WORD = {concentrator_offline: "cat_gateway_offline", meter_not_answering: "cat_meter_silent", wrong_answers: "cat_wrong_answers",
  not_rereadable: "cat_not_rereadable", archive_problem: "cat_archive", other: "cat_other"};
const PAGE = 50;

export default async function failed(ctx) {
  const {main, q} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const f = {};
  for (const k of ["date", "org_id", "area_id", "gateway_id", "protocol", "reason"]) if (q.get(k)) f[k] = q.get(k);
  if (f.date && !isDay(f.date)) delete f.date;
  const [areas, gws] = await Promise.all([api("/api/areas?limit=1000"), api("/api/gateways?limit=1000")]);
  // the categories and the reasons' words in the dashboard's language come from the server
  const p = new URLSearchParams({...f, lang: getLang(), limit: String(PAGE), offset: String(off)});
  const data = await api("/api/workbench/failed?" + p.toString());
  const exportPath = "/api/workbench/failed";
  const exportParams = new URLSearchParams(f);
  const date = data.date || f.date;
  const operator = can("operator");
  const pg = pager("failed", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("failed", exportPath, exportParams, `failed-meters-${date}`);
  const rereadCell = (r) => {
    if (!r.reread) return `<span class="muted">${esc(t("no_reread"))}</span>`;
    // the batch's command: pending (待下发), sent (进行中), ok/partial/error/expired; none: the
    // meter keeps no freeze history, so nothing was sent
    const st = r.reread.command_status || "not_rereadable";
    const word = r.reread.command_status ? status(st) : t("o_not_rereadable");
    return `<span class="badge ${esc(st)} reread-state" data-meter="${esc(r.meter_id)}" data-state="${esc(st)}">${esc(word)}</span>`;
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
      <a href="#/reread" id="batches-link">${esc(t("batches_title"))}</a></form>
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
      reason: `<span class="reason">${esc(r.reason_text || "–")}</span>`,
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
      const r = await post("/api/reread/batches", {items: meters.map((m) => ({meter_id: m, date}))});
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
