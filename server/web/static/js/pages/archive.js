// Navigation through the archive: the organisation tree (供电单位 → 供电所 → 台区 → 集中器 →
// 电表, concentrators and meters loaded when a node opens), the area list with each area's
// rate, and the search results (#/search?q=, by meter id, address, customer or account).
// Data: GET /api/org/tree, /api/org/areas, /api/org/areas/{id}/gateways,
// /api/org/gateways/{id}/meters and /api/search where the server has them, else the
// archive lists (GET /api/org-units, /api/areas, /api/gateways, /api/meters).
import {api, has} from "../api.js";
import {importTools} from "../archive_edit.js";
import {code, int, pct, t} from "../i18n.js";
import {$, $$, esc, exportButtons, pager, table} from "../ui.js";

const LEVEL = {company: ["供电单位", "Supply company"], station: ["供电所", "Supply station"], area: ["台区", "Area"],
  gateway: ["集中器", "Concentrator"], meter: ["电表", "Meter"]};

export default async function archive(ctx) {
  const modern = await has("/api/org/tree");
  if (ctx.name === "search") return search(ctx);
  const {main, q} = ctx;
  const zh = ctx.lang === "zh";
  const lvl = (k) => `<span class="lvl">${esc(LEVEL[k][zh ? 0 : 1])}</span>`;
  let tree, areas;
  const org = q.get("org_id") || "";
  if (modern) {
    [tree, areas] = await Promise.all([api("/api/org/tree"), api("/api/org/areas?limit=1000" + (org ? `&org_id=${encodeURIComponent(org)}` : ""))]);
  } else {
    const [units, as] = await Promise.all([api("/api/org-units?limit=1000"), api("/api/areas?limit=1000")]);
    const node = (u, depth) => ({type: "org", id: u.id, name: u.name, level: depth === 0 ? "company" : "station",
      children: [...units.items.filter((c) => c.parent_id === u.id).map((c) => node(c, depth + 1)),
        ...as.items.filter((a) => a.org_unit_id === u.id).map((a) => ({type: "area", id: a.id, name: a.name, children: []}))]});
    tree = {items: units.items.filter((u) => !u.parent_id).map((u) => node(u, 0))};
    const under = (id) => [id, ...units.items.filter((c) => c.parent_id === id).flatMap((c) => under(c.id))];
    const orgs = org ? new Set(under(org)) : null;
    areas = {items: as.items.filter((a) => !orgs || orgs.has(a.org_unit_id)).map((a) => ({...a, org_id: a.org_unit_id, rate: undefined}))};
    areas.total = areas.items.length;
  }
  const rateOf = (n) => (n.rate !== undefined && n.rate !== null ? ` <small class="${n.below_threshold ? "below" : "muted"}">${esc(pct(n.rate))}</small>` : "");
  const renderNode = (n) => n.type === "area"
    ? `<li><details class="area-node" data-area="${esc(n.id)}"><summary>${lvl("area")}${esc(n.name)}${rateOf(n)}</summary><ul class="gws"></ul></details></li>`
    : `<li><details open><summary>${lvl(n.level === "company" ? "company" : "station")}<a href="#/archive?org_id=${encodeURIComponent(n.id)}">${esc(n.name)}</a>${rateOf(n)}</summary>
        <ul>${(n.children || []).map(renderNode).join("")}</ul></details></li>`;
  const exp = await exportButtons("areas", modern ? "/api/org/areas" : "/api/areas", new URLSearchParams(org ? {org_id: org} : {}), "areas");
  const tools = importTools("#import-outcome", () => ctx.reload());
  main.innerHTML = `<h2>${esc(t("archive_title"))}</h2>${tools.html ? `<div class="toolbar">${tools.html}</div><div id="import-outcome"></div>` : ""}<div class="layout">
    <nav class="tree" id="org-tree" aria-label="${esc(t("org_tree"))}"><strong>${esc(t("org_tree"))}</strong><ul>${tree.items.map(renderNode).join("")}</ul></nav>
    <section><h3>${esc(t("area_list"))}${org ? ` · ${esc(org)} <a href="#/archive">×</a>` : ""}</h3><div class="toolbar">${exp.html}</div>
      ${table(["area", "name", "by_org", "meters", "rate", "actions"], areas.items, (a, c) => ({
        area: esc(a.id), name: esc(a.name), by_org: esc(a.org_name || a.org_id || "–"), meters: esc(a.meters === undefined ? "–" : int(a.meters)),
        rate: `<span class="${a.below_threshold ? "below" : ""}">${esc(a.rate === undefined ? "–" : pct(a.rate))}</span>`,
        actions: `<a href="#/failed?area_id=${encodeURIComponent(a.id)}">${esc(t("nav_failed"))}</a> · <a href="#/lineloss/${encodeURIComponent(a.id)}">${esc(t("nav_lineloss"))}</a>`,
      }[c]), {id: "area-list", rowAttrs: (a) => (a.below_threshold ? 'class="below"' : "")})}</section></div>`;
  exp.bind();
  tools.bind();
  // concentrators and meters: loaded when their node opens; a concentrator serving several
  // areas is under each, with that area's meters; each list exports as shown
  let n = 0;
  $$("details.area-node").forEach((el) => {
    el.addEventListener("toggle", async () => {
      if (!el.open || el.dataset.loaded) return;
      el.dataset.loaded = "1";
      const area = el.dataset.area, a = encodeURIComponent(area);
      const gws = modern ? await api(`/api/org/areas/${a}/gateways?limit=1000`) : await api(`/api/gateways?area_id=${a}&limit=1000`);
      const ge = modern ? await exportButtons(`gws-${++n}`, `/api/org/areas/${a}/gateways`, new URLSearchParams(), `concentrators-${area}`,
        "/api/org/areas/{area_id}/gateways") : {html: "", bind() {}};
      const shared = (g) => (g.areas && g.areas.length > 1 ? ` <small class="muted shared" title="${esc(t("areas_served"))}">${esc(g.areas.join(" · "))}</small>` : "");
      const meterCount = (g) => (g.meters !== undefined ? ` <small class="muted n-meters">${esc(t("n_meters", {n: int(g.meters)}))}</small>` : "");
      $(".gws", el).innerHTML = (ge.html ? `<li class="exports-row">${ge.html}</li>` : "")
        + (gws.items.map((g) => `<li><details class="gw-node" data-gateway="${esc(g.id)}"><summary>${lvl("gateway")}${esc(g.name || g.id)}${meterCount(g)}${rateOf(g)}${shared(g)}</summary><ul class="meters"><li><a href="#/gateways/${encodeURIComponent(g.id)}">${esc(t("detail"))} →</a></li></ul></details></li>`).join("")
        || `<li class="muted">${esc(t("none"))}</li>`);
      ge.bind();
      $$("details.gw-node", el).forEach((gn) => {
        gn.addEventListener("toggle", async () => {
          if (!gn.open || gn.dataset.loaded) return;
          gn.dataset.loaded = "1";
          const g = encodeURIComponent(gn.dataset.gateway);
          const ms = modern ? await api(`/api/org/gateways/${g}/meters?area_id=${a}&limit=200`) : await api(`/api/meters?gateway_id=${g}&area_id=${a}&limit=200`);
          const me = modern ? await exportButtons(`gwm-${++n}`, `/api/org/gateways/${g}/meters`, new URLSearchParams({area_id: area}),
            `meters-${gn.dataset.gateway}-${area}`, "/api/org/gateways/{gateway_id}/meters") : {html: "", bind() {}};
          $(".meters", gn).insertAdjacentHTML("beforeend", (me.html ? `<li class="exports-row">${me.html}</li>` : "")
            + ms.items.map((m) => `<li>${lvl("meter")}<a href="#/meters/${encodeURIComponent(m.id)}">${esc(m.id)}</a> <small class="muted">${esc(m.customer_name || m.address)}</small></li>`).join("")
            + (ms.total > ms.items.length ? `<li class="muted">… ${esc(int(ms.total - ms.items.length))}</li>` : ""));
          me.bind();
        });
      });
    });
  });
}

async function search(ctx) {
  const {main, q} = ctx;
  const text = (q.get("q") || "").trim();
  const off = Math.max(0, Number(q.get("offset")) || 0);
  $("#search").value = text;
  let data;
  if (await has("/api/search")) {
    data = await api(`/api/search?q=${encodeURIComponent(text)}&limit=50&offset=${off}`);
  } else {
    // without the server's search: the meter of that id, else a scan of the archive's
    // first 1,000 meters (small archives only)
    const all = await api("/api/meters?limit=1000");
    const low = text.toLowerCase();
    const rows = all.items.filter((m) => [m.id, m.address, m.customer_name, m.customer_account].some((v) => v && String(v).toLowerCase().includes(low)))
      .map((m) => ({meter_id: m.id, address: m.address, customer_name: m.customer_name, customer_account: m.customer_account, area_id: m.area_id, gateway_id: m.gateway_id, protocol: m.protocol}));
    data = {items: rows.slice(off, off + 50), total: rows.length, limit: 50, offset: off};
  }
  if (data.total === 1 && !off) { location.replace(`#/meters/${encodeURIComponent(data.items[0].meter_id)}`); return; }
  const pg = pager("search", data, (o) => ctx.go({offset: o}));
  const exp = data.total ? await exportButtons("search", "/api/search", new URLSearchParams({q: text}), "search") : {html: "", bind() {}};
  main.innerHTML = `<h2>${esc(t("search_title"))}: “${esc(text)}”</h2>${exp.html ? `<div class="toolbar">${exp.html}</div>` : ""}${pg.html}
    ${data.total ? table(["meter", "address", "customer", "account", "area", "gateway", "protocol"], data.items, (m, c) => ({
      meter: `<a href="#/meters/${encodeURIComponent(m.meter_id)}">${esc(m.meter_id)}</a>`, address: esc(m.address), customer: esc(m.customer_name || "–"),
      account: esc(m.customer_account || "–"), area: esc(m.area_name || m.area_id || "–"), gateway: esc(m.gateway_id || "–"), protocol: esc(code("protocol", m.protocol))}[c]), {id: "search-results"})
      : `<p class="muted" id="no-match">${esc(t("no_match"))}</p>`}`;
  pg.bind();
  exp.bind();
}
