// The command history (命令记录): every command sent to the concentrators — 召测, 补抄,
// 曲线补抄, 校时, … — who asked and when, its status (待下发 / 进行中 / …) and outcome;
// filtered by concentrator, meter, command, status and local days, paged on the server and
// exported as the clerk sees it. Reached from the concentrator and meter pages (filtered).
// Data: GET /api/commands (format=csv|xlsx exports).
import {api} from "../api.js";
import {int, status, t, when} from "../i18n.js";
import {$, esc, exportButtons, isDay, option, pager, table} from "../ui.js";

export const refresh = 30;
const PAGE = 50;
const NAMES = ["read_now", "backfill", "backfill_curve", "time_sync", "rediscover", "reload_config"];
const STATUSES = ["pending", "sent", "ok", "partial", "error", "expired"];
const FILTERS = ["gateway_id", "meter_id", "name", "status", "start", "end"];

export const commandName = (n) => (NAMES.includes(n) ? t("cmd_" + n) : n);

// the result's counts in words: "已抄到 3 · 读数 36"; the error as the gateway gave it
function outcome(x) {
  const parts = Object.entries(x.summary || {}).map(([k, v]) => {
    const word = t("sum_" + k);
    return `${word === "sum_" + k ? k : word} ${typeof v === "number" ? int(v) : v}`;
  });
  if (x.error) parts.push(x.error);
  return parts.join(" · ");
}

export default async function commands(ctx) {
  const {main, q} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const f = {};
  for (const k of FILTERS) if (q.get(k)) f[k] = q.get(k);
  for (const k of ["start", "end"]) if (f[k] && !isDay(f[k])) delete f[k];
  if (f.name && !NAMES.includes(f.name)) delete f.name;
  if (f.status && !STATUSES.includes(f.status)) delete f.status;
  const p = new URLSearchParams({...f, limit: String(PAGE), offset: String(off)});
  const [data, gws] = await Promise.all([api("/api/commands?" + p.toString()), api("/api/gateways?limit=1000")]);
  const pg = pager("commands", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("commands", "/api/commands", new URLSearchParams(f), "commands");
  main.innerHTML = `<h2>${esc(t("commands_title"))}</h2>
    <form class="toolbar" id="cmd-filters">
      <label>${esc(t("gateway"))}<select name="gateway_id" id="c-gateway">${option("", t("all"))}${gws.items.map((g) => option(g.id, g.name ? `${g.name} (${g.id})` : g.id, g.id === f.gateway_id)).join("")}</select></label>
      <label>${esc(t("meter"))}<input name="meter_id" id="c-meter" maxlength="64" size="12" value="${esc(f.meter_id || "")}"></label>
      <label>${esc(t("cmd_name"))}<select name="name" id="c-name">${option("", t("all"))}${NAMES.map((n) => option(n, commandName(n), n === f.name)).join("")}</select></label>
      <label>${esc(t("status"))}<select name="status" id="c-status">${option("", t("all"))}${STATUSES.map((s) => option(s, status(s), s === f.status)).join("")}</select></label>
      <label>${esc(t("start_day"))}<input type="date" name="start" id="c-start" value="${esc(f.start || "")}"></label>
      <label>${esc(t("end_day"))}<input type="date" name="end" id="c-end" value="${esc(f.end || "")}"></label>
      <button type="submit" class="primary" id="c-apply">${esc(t("apply"))}</button>
      <button type="button" id="c-reset">${esc(t("reset"))}</button> ${exp.html}</form>
    ${pg.html}
    ${table([["time", "requested_at"], "cmd_name", "gateway", "meter", "cmd_items", "requested_by", "status", "cmd_sent", "finished", "cmd_outcome"], data.items, (x, c) => ({
      time: esc(when(x.created_at)),
      cmd_name: `<span class="cmd-name" data-name="${esc(x.name)}" title="${esc(x.id)}">${esc(commandName(x.name))}</span>`,
      gateway: `<a href="#/gateways/${encodeURIComponent(x.gateway_id)}">${esc(x.gateway_id)}</a>`,
      meter: x.meter_id ? `<a href="#/meters/${encodeURIComponent(x.meter_id)}">${esc(x.meter_id)}</a>` : "–",
      cmd_items: esc(x.items ? int(x.items) : "–"),
      requested_by: esc(x.requested_by || "–"),
      status: `<span class="badge ${esc(x.status)} cmd-status" data-status="${esc(x.status)}">${esc(status(x.status))}</span>`,
      cmd_sent: esc(when(x.sent_at)), finished: esc(when(x.finished_at || x.expired_at)),
      cmd_outcome: `<span class="cmd-outcome">${esc(outcome(x))}</span>`,
    }[c]), {id: "commands-table"})}`;
  pg.bind();
  exp.bind();
  $("#cmd-filters").onsubmit = (ev) => {
    ev.preventDefault();
    const n = {};
    for (const [k, v] of new FormData(ev.target).entries()) n[k] = String(v).trim();
    ctx.go({...n, offset: ""});
  };
  $("#c-reset").onclick = () => { location.hash = "#/commands"; };
}
