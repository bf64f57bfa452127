// Administration (administrators only): users (create, role, active, unlock), the anomaly
// rules' parameters as forms with their ranges, the audit log (filters in the address),
// quarantined readings, dead letters and conflicting readings.
import {api, can, loadRules, post} from "../api.js";
import {code, int, t, when} from "../i18n.js";
import {$, $$, dialog, esc, option, pager, table, toast} from "../ui.js";

const TABS = ["users", "rule_params", "audit", "quarantine", "dead_letters", "conflicts"];
const PAGE = 50;

export default async function admin(ctx) {
  const {main} = ctx;
  if (!can("admin")) { main.innerHTML = `<p class="error" id="audit-refused">${esc(t("admin_only"))}</p>`; return; }
  const tab = ctx.name === "audit" ? "audit" : TABS.includes(ctx.arg) ? ctx.arg : "users";
  const tabs = `<h2>${esc(t("admin_title"))}</h2><div class="tabs">${TABS.map((x) => `<a href="#/admin/${x}" id="tab-${x}" class="${x === tab ? "active" : ""}">${esc(t(x))}</a>`).join("")}</div><div id="tab-body"></div>`;
  main.innerHTML = tabs;
  main.dataset.tab = tab;
  const body = $("#tab-body");
  await {users, rule_params: ruleParams, audit, quarantine: kept("/api/quarantine"), dead_letters: kept("/api/dead-letters"), conflicts: kept("/api/conflicts")}[tab](ctx, body);
}

async function users(ctx, body) {
  const got = await api("/api/users?limit=1000");
  const list = Array.isArray(got) ? got : got.items;  // a plain list before the paged one
  const ROLES = ["viewer", "operator", "admin"];
  body.innerHTML = `<div class="toolbar"><button type="button" class="primary" id="new-user">${esc(t("create_user"))}</button></div>
    ${table(["username", "display_name", "role", "active", "last_login", "actions"], list, (u, c) => ({
      username: esc(u.username), display_name: esc(u.display_name || ""),
      role: `<select class="user-role" data-user="${esc(u.username)}">${ROLES.map((r) => option(r, t("role_" + r), r === u.role)).join("")}</select>`,
      active: `<input type="checkbox" class="user-active" data-user="${esc(u.username)}"${u.active ? " checked" : ""}>`,
      last_login: esc(when(u.last_login_at)),
      actions: `<button type="button" class="unlock" data-user="${esc(u.username)}">${esc(t("unlock"))}</button>`}[c]), {id: "users"})}`;
  const patch = async (user, change) => {
    try { await api(`/api/users/${encodeURIComponent(user)}`, {method: "PATCH", body: JSON.stringify(change)}); toast(t("saved")); } catch (e) { toast(e.message, true); ctx.reload(); }
  };
  $$("select.user-role").forEach((s) => { s.onchange = () => patch(s.dataset.user, {role: s.value}); });
  $$("input.user-active").forEach((i) => { i.onchange = () => patch(i.dataset.user, {active: i.checked}); });
  $$("button.unlock").forEach((b) => { b.onclick = async () => { try { await post(`/api/users/${encodeURIComponent(b.dataset.user)}/unlock`, {}); toast(t("saved")); } catch (e) { toast(e.message, true); } }; });
  $("#new-user").onclick = async () => {
    const v = await dialog(t("create_user"), `<label>${esc(t("username"))}<input name="username" required maxlength="64"></label>
      <label>${esc(t("display_name"))}<input name="display_name" maxlength="200"></label>
      <label>${esc(t("role"))}<select name="role">${ROLES.map((r) => option(r, t("role_" + r))).join("")}</select></label>
      <label>${esc(t("password"))}<input name="password" type="password" minlength="12" required autocomplete="new-password"></label>
      <p class="muted">${esc(t("password_rules"))}</p>`, {okText: t("save")});
    if (!v) return;
    try { await post("/api/users", {username: v.username, display_name: v.display_name || null, role: v.role, password: v.password}); toast(t("saved")); ctx.reload(); } catch (e) { toast(e.message, true); }
  };
}

async function ruleParams(ctx, body) {
  const [rules, inForce] = await Promise.all([loadRules(), api("/api/rule-params")]);
  const withParams = rules.filter((r) => r.params.length);
  body.innerHTML = withParams.map((r) => `<form class="card rule-form" data-rule="${esc(r.name)}"><h3>${esc(code("rule", r.name))}</h3>
    <div class="toolbar">${r.params.map((p) => `<label title="${esc(p.name)}">${esc(code("param", p.name))}
      <input type="number" name="${esc(p.name)}" value="${esc(inForce.rules[r.name]?.general[p.name] ?? p.default)}" min="${esc(p.min)}" max="${esc(p.max)}" step="${p.integer ? 1 : "any"}" required>
      <small class="muted">${esc(p.unit ? code("unit", p.unit) : "")} · ${esc(t("range"))} ${esc(p.min)}–${esc(p.max)} · ${esc(t("default"))} ${esc(p.default)}</small></label>`).join("")}
      <button type="submit" class="primary">${esc(t("save"))}</button></div></form>`).join("");
  $$("form.rule-form").forEach((f) => {
    f.oninput = () => { ctx.main.dataset.dirty = "1"; };
    f.onsubmit = async (ev) => {
      ev.preventDefault();
      const params = Object.fromEntries([...new FormData(f).entries()].map(([k, v]) => [k, Number(v)]));
      try {
        await api(`/api/rule-params/${encodeURIComponent(f.dataset.rule)}`, {method: "PUT", body: JSON.stringify({params})});
        delete ctx.main.dataset.dirty;
        toast(t("saved"));
      } catch (e) { toast(e.message, true); }
    };
  });
}

async function audit(ctx, body) {
  // the audit log, newest first: filters and the page live in the address (#/audit?actor=…)
  const {q} = ctx;
  const off = Math.max(0, Number(q.get("offset")) || 0);
  const FIELDS = ["entity", "entity_id", "actor", "action"];
  const isDay = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || "");
  // a picked day is the browser's local day: from its midnight, to the midnight after it
  const instant = (d, plus = 0) => new Date(new Date(d + "T00:00:00").getTime() + plus * 86400000).toISOString();
  const p = new URLSearchParams({limit: String(PAGE), offset: String(off)});
  FIELDS.forEach((f) => { if (q.get(f)) p.set(f, q.get(f)); });
  if (isDay(q.get("from"))) p.set("from", instant(q.get("from")));
  if (isDay(q.get("to"))) p.set("to", instant(q.get("to"), 1));
  const data = await api("/api/audit?" + p.toString());
  const json = (v) => (v === null || v === undefined ? "∅" : JSON.stringify(v));
  const changes = (r) => {
    const b = r.before && typeof r.before === "object" ? r.before : {}, a = r.after && typeof r.after === "object" ? r.after : {};
    const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => json(b[k]) !== json(a[k]));
    return keys.slice(0, 6).map((k) => `<div><span class="muted">${esc(k)}:</span> ${k in b ? esc(json(b[k])) + " → " : ""}${esc(json(a[k]))}</div>`).join("")
      + (keys.length > 6 ? `<div class="muted">… +${keys.length - 6}</div>` : "");
  };
  const pg = pager("audit", {total: data.total, limit: PAGE, offset: off}, (o) => ctx.go({offset: o}, "#/audit"));
  body.innerHTML = `<form class="toolbar" id="audit-filters">
      ${FIELDS.map((f) => `<label>${esc(t(f))} <input id="f-${f}" name="${f}" size="12" maxlength="200" value="${esc(q.get(f) || "")}"></label>`).join("")}
      <label>${esc(t("from"))} <input type="date" id="f-from" name="from" value="${esc(isDay(q.get("from")) ? q.get("from") : "")}"></label>
      <label>${esc(t("to"))} <input type="date" id="f-to" name="to" value="${esc(isDay(q.get("to")) ? q.get("to") : "")}"></label>
      <button class="primary" type="submit" id="audit-search">${esc(t("search"))}</button>
      <button type="button" id="audit-reset">${esc(t("reset"))}</button></form>
    ${pg.html}<div id="audit-rows">${table(["time", "actor", "action", "entity", "entity_id", "changes"], data.items, (r, c) => ({
      time: `<span title="${esc(r.at)}">${esc(when(r.at, {seconds: true}))}</span>`, actor: esc(r.actor),
      action: `<span class="audit-action" data-action="${esc(r.action)}">${esc(code("action", r.action))}</span>`, entity: esc(r.entity), entity_id: esc(r.entity_id),
      changes: `<div class="changes">${changes(r)}</div>`}[c]))}</div>`;
  pg.bind();
  $("#audit-filters").onsubmit = (ev) => {
    ev.preventDefault();
    const n = new URLSearchParams();
    for (const [k, v] of new FormData(ev.target).entries()) if (String(v).trim()) n.set(k, String(v).trim());
    location.hash = "#/audit" + (n.toString() ? "?" + n.toString() : "");
  };
  $("#audit-reset").onclick = () => { location.hash = "#/audit"; };
}

// what ingestion kept aside: one generic paged table of the rows as the server keeps them
function kept(path) {
  return async (ctx, body) => {
    const off = Math.max(0, Number(ctx.q.get("offset")) || 0);
    const data = await api(`${path}?limit=${PAGE}&offset=${off}`);
    const cols = data.items.length ? Object.keys(data.items[0]).slice(0, 8) : ["meter", "gateway", "reason", "received"];
    const pg = pager("kept", data, (o) => ctx.go({offset: o}));
    const cell = (v, k) => (v && typeof v === "object" ? `<code>${esc(JSON.stringify(v).slice(0, 200))}</code>` : /(_at|^ts)$/.test(k) && v ? esc(when(v, {seconds: true})) : esc(v));
    const HEAD = {meter_id: "meter", gateway_id: "gateway", reason: "reason", received_at: "received", ts: "time", quantity: "quantity", value: "value",
      topic: "topic", error: "error", id: "entity_id", created_at: "received", source: "source", kind: "kind"};
    body.innerHTML = `${pg.html}${table(cols.map((k) => [k, HEAD[k] || k]), data.items, (r, k) => (k === "quantity" ? esc(code("quantity", r[k])) : cell(r[k], k)), {id: "kept"})}
      <p class="muted">${esc(t("rows_of", {n: int(data.total), a: data.total ? off + 1 : 0, b: Math.min(off + PAGE, data.total)}))}</p>`;
    pg.bind();
  };
}
