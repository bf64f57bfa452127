// 召测 (on-demand read) of one meter: queue the command and show its values as they
// arrive. POST /api/meters/{id}/read-now and its poll where the server has them, else the
// read_now command to the meter's concentrator and GET /api/commands/{id}.
import {api, has, post} from "./api.js";
import {code, num, status, t, when} from "./i18n.js";
import {esc} from "./ui.js";

const FINAL = new Set(["ok", "error", "expired", "partial"]);

export async function readNow(meter, gateway, out) {
  out.innerHTML = `<p class="muted">${esc(t("loading"))}</p>`;
  const modern = await has(`/api/meters/{meter_id}/read-now/{command_id}`);
  let id, poll;
  if (modern) {
    const r = await post(`/api/meters/${encodeURIComponent(meter)}/read-now`, {});
    id = r.command_id;
    poll = () => api(`/api/meters/${encodeURIComponent(meter)}/read-now/${encodeURIComponent(id)}`);
  } else {
    const r = await post(`/api/gateways/${encodeURIComponent(gateway)}/commands`, {name: "read_now", args: {meter}});
    id = r.id;
    poll = async () => {
      const c = await api(`/api/commands/${encodeURIComponent(id)}`);
      return {command_id: c.id, status: c.status, requested_at: c.created_at, finished_at: c.finished_at || c.answered_at,
        error: c.error, values: (c.result && c.result.values) || {}};
    };
  }
  out.dataset.command = id;
  const show = (r) => {
    const values = Object.entries(r.values || {});
    const state = r.status === "ok" ? t("read_now_done") : r.status === "expired" ? t("read_now_expired")
      : r.status === "error" ? t("read_now_failed") : t("read_now_sent", {id});
    out.dataset.status = r.status;
    out.innerHTML = `<p class="read-now-state"><span class="badge ${esc(r.status)}">${esc(status(r.status))}</span> ${esc(state)}
      ${r.finished_at ? `<span class="muted">${esc(when(r.finished_at, {seconds: true}))}</span>` : ""}</p>
      ${r.error ? `<p class="error">${esc(r.error)}</p>` : ""}
      ${values.length ? `<table class="readings" id="read-now-values"><tbody>${values.map(([q, v]) =>
        `<tr><td>${esc(code("quantity", q))}</td><td class="num" data-q="${esc(q)}">${esc(num(v, 2))}</td></tr>`).join("")}</tbody></table>` : ""}`;
    return FINAL.has(r.status);
  };
  if (show({status: "pending", values: {}})) return;
  for (let i = 0; i < 90; i++) {
    await new Promise((res) => setTimeout(res, 2000));
    if (!out.isConnected) return;  // the clerk left the page
    if (show(await poll())) return;
  }
}
