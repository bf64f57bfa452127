// Concentrators (集中器): online rate, last communication in local time, outbox depth,
// meters failing; a concentrator's page (#/gateways/<id>) has per-bus statistics, its
// failing meters, recent commands, events and a time sync (校时) for operators.
// Data: GET /api/concentrators (+ /{id}) where the server has them, else
// GET /api/gateway-status and /api/gateways/{id}/commands.
import {commandName} from "./commands.js";
import {api, can, has, post} from "../api.js";
import {ago, code, int, pct, status, t, when} from "../i18n.js";
import {$, esc, exportButtons, pager, table, toast} from "../ui.js";

export const refresh = 30;
const PAGE = 100;
const outbox = (g) => g.outbox_depth ?? g.status?.outbox?.depth ?? g.status?.outbox_depth ?? null;

export default async function gateways(ctx) {
  const modern = await has("/api/concentrators");
  return ctx.arg ? one(ctx, modern) : list(ctx, modern);
}

async function list(ctx, modern) {
  const {main, q} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const p = new URLSearchParams({limit: String(PAGE), offset: String(off)});
  if (q.get("online")) p.set("online", q.get("online"));
  const data = await api((modern ? "/api/concentrators?" : "/api/gateway-status?") + p.toString());
  const online = data.online ?? data.items.filter((g) => g.online).length;
  const count = data.count ?? data.total;
  const rate = data.online_rate ?? (count ? online / count : null);
  const pg = pager("gateways", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("gateways", modern ? "/api/concentrators" : "/api/gateway-status", new URLSearchParams(), "concentrators");
  main.innerHTML = `<h2>${esc(t("gateways_title"))}</h2>
    <div class="cards"><div class="card"><div class="label">${esc(t("online_rate"))}</div><div class="big ${rate !== null && rate < 1 ? "below" : "good"}" id="online-rate">${esc(pct(rate))}</div>
      <div class="muted">${esc(int(online))} / ${esc(int(count))}</div></div></div>
    <div class="toolbar">${exp.html}</div>${pg.html}
    ${table(["gateway", "name", "area", "online", "last_seen", "outbox", "failing_meters", "rate", "version"], data.items, (g, c) => ({
      gateway: `<a href="#/gateways/${encodeURIComponent(g.id)}">${esc(g.id)}</a>`, name: esc(g.name || ""),
      area: `<span class="areas">${esc((g.areas && g.areas.length ? g.areas : [g.area_id || "–"]).join(" · "))}</span>`,
      online: g.online ? `<span class="good">${esc(t("is_online"))}</span>` : `<span class="bad">${esc(t("offline"))}</span>`,
      last_seen: `<span class="last-seen" title="${esc(g.last_seen || "")}">${esc(when(g.last_seen))}</span> <small class="muted">${esc(ago(g.last_seen))}</small>`,
      outbox: `<span class="outbox" data-gateway="${esc(g.id)}">${esc(outbox(g) === null ? "–" : int(outbox(g)))}</span>`,
      failing_meters: esc(g.failing_meters ?? "–"), rate: esc(pct(g.rate)), version: esc(g.version || "–"),
    }[c]), {id: "gateway-table"})}`;
  pg.bind();
  exp.bind();
}

async function one(ctx, modern) {
  const {main, arg: id} = ctx;
  const g = encodeURIComponent(id);
  let det;
  if (modern) det = await api(`/api/concentrators/${g}`);
  else {
    const all = await api("/api/gateway-status?limit=1000");
    det = all.items.find((x) => x.id === id);
    if (!det) throw Object.assign(new Error(t("err_not_found")), {status: 404});
    det.commands = (await api(`/api/gateways/${g}/commands?limit=20`)).items;
  }
  const meters = await api(`/api/meters?gateway_id=${g}&limit=1000`).catch(() => ({items: []}));
  const exp = await exportButtons("gw-meters", "/api/meters", new URLSearchParams({gateway_id: id}), `meters-${id}`);
  main.innerHTML = `<p><a href="#/gateways">← ${esc(t("gateways_title"))}</a></p>
    <h2>${esc(t("gateway"))} ${esc(id)} <small class="muted">${esc(det.name || "")}</small></h2>
    <div class="cards"><div class="card"><div class="label">${esc(t("online"))}</div><div class="big ${det.online ? "good" : "bad"}">${esc(det.online ? t("is_online") : t("offline"))}</div></div>
      <div class="card"><div class="label">${esc(t("last_seen"))}</div><div>${esc(when(det.last_seen, {seconds: true}))}</div><div class="muted">${esc(ago(det.last_seen))}</div></div>
      <div class="card"><div class="label">${esc(t("outbox"))}</div><div class="big">${esc(outbox(det) === null ? "–" : int(outbox(det)))}</div></div>
      <div class="card"><div class="label">${esc(t("meters"))}</div><div class="big">${esc(int(meters.total ?? meters.items.length))}</div></div></div>
    ${can("operator") ? `<div class="toolbar"><button type="button" id="time-sync">${esc(t("time_sync"))}</button></div>` : ""}
    ${det.buses ? `<h3>${esc(t("bus"))}</h3>${table(["bus", "meters", "transactions", "timeouts", "checksum_errors", "meters_ok", "meters_failing", "error"], det.buses, (b, c) => ({
      bus: esc(b.name), meters: esc(b.archive_meters ?? "–"), transactions: esc(int(b.transactions)), timeouts: esc(int(b.timeouts)), checksum_errors: esc(int(b.checksum_errors)),
      meters_ok: esc(int(b.meters_ok)), meters_failing: esc(int(b.meters_failing)), error: esc(b.last_error || (b.reported === false ? t("not_reported") : ""))}[c]), {id: "buses"})}` : ""}
    ${Array.isArray(det.failing_meters) ? `<h3>${esc(t("failing_meters"))}</h3>${table(["meter", "status", "last_good", "error", "failures"], det.failing_meters, (m, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(m.meter || m.meter_id)}">${esc(m.meter || m.meter_id)}</a>`, status: esc(t("ms_" + m.state)), last_good: esc(when(m.last_ok)),
      error: esc(m.last_error || ""), failures: esc(m.consecutive_failures ?? "–")}[c]), {id: "failing"})}` : ""}
    ${det.time_sync ? `<p>${esc(t("time_sync"))}: <span class="badge ${esc(det.time_sync.status)}">${esc(status(det.time_sync.status))}</span> ${esc(when(det.time_sync.finished_at))}</p>` : ""}
    ${det.events ? `<h3>${esc(t("events"))}</h3>${table(["meter", "time", "quantity", "value"], det.events.slice(0, 20), (e, c) => ({
      meter: esc(e.meter_id), time: esc(when(e.ts)), quantity: esc(code("quantity", e.quantity)), value: esc(e.value)}[c]))}` : ""}
    <h3>${esc(t("meter_table"))}</h3>${exp.html ? `<div class="toolbar">${exp.html}</div>` : ""}${table(["meter", "address", "area", "protocol", "bus", "customer_class"], meters.items, (m, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(m.id)}">${esc(m.id)}</a>`, address: esc(m.address), area: esc(m.area_id || "–"), protocol: esc(code("protocol", m.protocol)),
      bus: esc(m.bus || "–"), customer_class: esc(code("customer_class", m.customer_class))}[c]))}
    <h3>${esc(t("commands"))} <small><a id="gw-commands-link" href="#/commands?gateway_id=${encodeURIComponent(id)}">${esc(t("commands_of_gateway"))} →</a></small></h3>${table(["time", "name", "status", "who"], det.commands || [], (x, c) => ({
      time: esc(when(x.created_at)), name: esc(commandName(x.name)),
      status: `<span class="badge ${esc(x.status)}">${esc(status(x.status))}</span>`, who: esc(x.requested_by)}[c]))}`;
  exp.bind();
  const ts = $("#time-sync");
  if (ts) ts.onclick = async () => {
    ts.disabled = true;
    try { await post(`/api/gateways/${g}/commands`, {name: "time_sync", args: {}}); toast(t("time_sync") + " ✓"); ctx.reload(); } catch (e) { toast(e.message, true); ts.disabled = false; }
  };
}
