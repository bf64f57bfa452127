// Staff re-read batches (补抄批次): the batches, newest first, with their items' outcomes
// counted (#/reread), and one batch's meter-days with each outcome, filtered by outcome and
// exported as the clerk sees them (#/reread/<id>).
// Data: GET /api/reread/batches and /api/reread/batches/{id} (reason_text in the
// dashboard's language; format=csv|xlsx exports).
import {api} from "../api.js";
import {day, getLang, int, t, when} from "../i18n.js";
import {esc, exportButtons, pager, table} from "../ui.js";

const OUTCOMES = ["read", "pending", "sent", "failed", "expired", "not_rereadable"];
const PAGE = 50;
const badge = (o) => `<span class="badge outcome ${esc(o)}" data-outcome="${esc(o)}">${esc(t("o_" + o))}</span>`;

export default async function batches(ctx) {
  return ctx.arg ? one(ctx) : list(ctx);
}

async function list(ctx) {
  const {main, q} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const data = await api(`/api/reread/batches?limit=${PAGE}&offset=${off}`);
  const pg = pager("batches", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("batches", "/api/reread/batches", new URLSearchParams(), "reread-batches");
  const cell = (b, c) => {
    if (c === "batch") return `<a href="#/reread/${encodeURIComponent(b.id)}">${esc(b.id)}</a>`;
    if (c === "requested_at") return esc(when(b.requested_at));
    if (c === "requested_by") return esc(b.requested_by);
    if (c === "items_n") return esc(int(b.items));
    return esc(int((b.outcome || {})[c] || 0));
  };
  main.innerHTML = `<p><a href="#/failed">← ${esc(t("failed_title"))}</a></p><h2>${esc(t("batches_title"))}</h2>
    ${exp.html ? `<div class="toolbar">${exp.html}</div>` : ""}${pg.html}
    ${table(["batch", "requested_at", "requested_by", "items_n", ...OUTCOMES.map((o) => [o, "o_" + o])], data.items, cell, {id: "batch-list"})}`;
  pg.bind();
  exp.bind();
}

async function one(ctx) {
  const {main, q, arg: id} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const outcome = OUTCOMES.includes(q.get("outcome")) ? q.get("outcome") : "";
  // the reasons' words in the dashboard's language (as the failed list's)
  const p = new URLSearchParams({lang: getLang(), limit: String(PAGE), offset: String(off)});
  if (outcome) p.set("outcome", outcome);
  const path = `/api/reread/batches/${encodeURIComponent(id)}`;
  const data = await api(`${path}?${p.toString()}`);
  const b = data.batch;
  const pg = pager("batch", data, (o) => ctx.go({offset: o}));
  const exp = await exportButtons("batch", path, new URLSearchParams(outcome ? {outcome} : {}), `reread-batch-${b.id}`,
    "/api/reread/batches/{batch_id}");
  const counts = data.outcome || {};
  const all = Object.values(counts).reduce((x, y) => x + y, 0);
  main.innerHTML = `<p><a href="#/reread">← ${esc(t("batches_title"))}</a></p>
    <h2>${esc(t("batch"))} ${esc(b.id)} <small class="muted">${esc(when(b.requested_at))} · ${esc(b.requested_by)}</small></h2>
    <div class="toolbar"><div class="chips" id="outcomes">${[["", `${t("all")} (${int(all)})`], ...OUTCOMES.filter((o) => counts[o]).map((o) => [o, `${t("o_" + o)} (${int(counts[o])})`])]
      .map(([o, text]) => `<button type="button" class="cat ${outcome === o ? "active" : ""}" data-outcome="${esc(o)}">${esc(text)}</button>`).join("")}</div>
      ${exp.html}</div>${pg.html}
    ${table(["meter", "day_reread", "gateway", "outcome", "why_not", "command", "finished"], data.items, (r, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(r.meter_id)}">${esc(r.meter_id)}</a>`, day_reread: esc(day(r.date)), gateway: esc(r.gateway_id || "–"),
      outcome: badge(r.outcome), why_not: `<span class="why-not" data-code="${esc(r.reason_code || "")}">${esc(r.reason_text || "")}</span>`, command: `<small>${esc(r.command_id || "–")}</small>`, finished: esc(when(r.finished_at)),
    }[c]), {id: "batch-items"})}`;
  pg.bind();
  exp.bind();
  main.querySelectorAll("#outcomes button").forEach((x) => { x.onclick = () => ctx.go({outcome: x.dataset.outcome, offset: ""}); });
}
