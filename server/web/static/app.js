// meterlink dashboard: a small single-page app over the meterlink API. No framework, no CDN.
"use strict";

const I18N = {
  zh: {
    overview: "总览", failed: "失败清单", anomalies: "异常档案", gateways: "集中器", logout: "退出",
    signin: "登录", username: "用户名", password: "密码", rate_yesterday: "昨日采集成功率",
    trend: "近30天采集成功率", worst_areas: "成功率最低的台区", worst_gateways: "成功率最低的集中器",
    open_by_kind: "未关闭异常（按类型）", offline: "离线集中器", area: "台区", gateway: "集中器",
    due: "应抄", read: "实抄", rate: "成功率", meter: "电表", reason: "失败原因",
    last_good: "最后成功", reread: "补抄", requested: "已下发补抄", already_pending: "补抄已在进行（未重复下发）",
    not_requested: "未下发补抄", download_csv: "下载 CSV",
    rule: "规则", status: "状态", first: "首次", last: "最近", actions: "操作",
    confirm: "确认", dismiss: "排除", close: "关闭", online: "在线", outbox: "缓存数据",
    version: "版本", line_loss: "线损率", meters: "电表", curve: "负荷曲线", protocol: "规约",
    daily: "日用电量（按费率）", latest: "最新读数", value: "值", none: "无", all: "全部",
    comment: "处理意见", date: "日期", yes: "是", no: "否",
    load_curve: "负荷曲线（有功功率）", data_date: "数据日期", day_kwh: "当日用电量",
    events: "事件记录", events_window: "所选日期及之前30天", raw: "原始读数（所选日期）",
    time: "时间", quantity: "数据项", unit: "单位", kind: "类型", source: "来源", quality: "质量标志",
    prev: "上一页", next: "下一页", rows_of: "共 {n} 条，第 {a}–{b} 条", no_curve: "当日无曲线数据",
    energy_import_total: "总", energy_import_t1: "尖", energy_import_t2: "峰",
    energy_import_t3: "平", energy_import_t4: "谷",
  },
  en: {
    overview: "Overview", failed: "Failed meters", anomalies: "Anomalies", gateways: "Gateways",
    logout: "Sign out", signin: "Sign in", username: "User name", password: "Password",
    rate_yesterday: "Collection success, yesterday", trend: "Success rate, last 30 days",
    worst_areas: "Worst transformer areas", worst_gateways: "Worst concentrators",
    open_by_kind: "Open anomalies by kind", offline: "Gateways offline", area: "Area",
    gateway: "Gateway", due: "Due", read: "Read", rate: "Rate", meter: "Meter",
    reason: "Reason", last_good: "Last good", reread: "Re-read", requested: "Re-read requested",
    already_pending: "Re-read already pending (not asked twice)", not_requested: "Re-read not requested",
    download_csv: "Download CSV", rule: "Rule", status: "Status", first: "First", last: "Last",
    actions: "Actions", confirm: "Confirm", dismiss: "Dismiss", close: "Close", online: "Online",
    outbox: "Outbox", version: "Version", line_loss: "Line loss", meters: "Meters", protocol: "Protocol",
    curve: "Load curve", daily: "Daily consumption by tariff", latest: "Latest values",
    value: "Value", none: "none", all: "all", comment: "Comment", date: "Date", yes: "yes",
    no: "no", load_curve: "Load curve (active power)", data_date: "Data date",
    day_kwh: "Consumption that day", events: "Meter events",
    events_window: "the chosen day and the 30 days before", raw: "Raw readings (chosen day)",
    time: "Time", quantity: "Quantity", unit: "Unit", kind: "Kind", source: "Source",
    quality: "Quality flags", prev: "Previous", next: "Next", rows_of: "{a}–{b} of {n}",
    no_curve: "no curve data that day", energy_import_total: "Total", energy_import_t1: "T1 sharp",
    energy_import_t2: "T2 peak", energy_import_t3: "T3 flat", energy_import_t4: "T4 valley",
  },
};
// the failed list's reason codes (GET /api/failed-meters `reason`, issue 18 item 4)
Object.assign(I18N.zh, {
  reason_quarantined: "读数被隔离", reason_never_read: "安装后从未抄到", reason_wrong_answers: "电表应答错误",
  reason_meter_not_answering: "电表不应答", reason_concentrator_offline: "集中器离线",
  reason_no_reading: "未收到数据", reason_not_rereadable: "终端日冻结缺失，电表无冻结历史，无法补抄",
});
Object.assign(I18N.en, {
  reason_quarantined: "reading quarantined", reason_never_read: "never read since installed",
  reason_wrong_answers: "wrong answers", reason_meter_not_answering: "meter not answering",
  reason_concentrator_offline: "concentrator offline", reason_no_reading: "no reading received",
  reason_not_rereadable: "terminal freeze missed: no freeze history, cannot be re-read",
});
const failedReason = (r) => {
  const cause = r.reason === "not_rereadable" && r.cause !== "no_reading" ? `${t("reason_" + r.cause)}; ` : "";
  return cause + t("reason_" + r.reason) + (r.last_error ? ` (${r.last_error})` : "");
};
// the audit page (admins only)
Object.assign(I18N.zh, {
  audit: "审计日志", actor: "操作人", action: "操作类型", entity: "对象类型", entity_id: "对象编号",
  changes: "变更内容", from: "起始日期", to: "截止日期", search: "查询", reset: "重置",
  audit_admin_only: "仅管理员可查看审计日志",
});
Object.assign(I18N.en, {
  audit: "Audit log", actor: "Actor", action: "Action", entity: "Record type", entity_id: "Record",
  changes: "Changes", from: "From", to: "To", search: "Search", reset: "Reset",
  audit_admin_only: "Only administrators can read the audit log",
});
// anomaly rules by code: [中文, English], read from the rule table (GET /api/rules,
// server/checks/rule_table.py) once signed in
let RULES = {};
async function loadRules() {
  if (Object.keys(RULES).length) return;
  const data = await api("/api/rules");
  RULES = Object.fromEntries(data.rules.map((r) => [r.name, [r.label.zh, r.label.en]]));
}
// quantities (protocols/model.py), reading kinds, sources and quality flags: [中文, English]
const NAMES = {
  energy_combined_total: ["组合有功总电能", "Combined active energy"],
  energy_import_total: ["正向有功总电能", "Import active energy"],
  energy_import_t1: ["正向有功尖电能", "Import energy T1 (sharp)"],
  energy_import_t2: ["正向有功峰电能", "Import energy T2 (peak)"],
  energy_import_t3: ["正向有功平电能", "Import energy T3 (flat)"],
  energy_import_t4: ["正向有功谷电能", "Import energy T4 (valley)"],
  energy_export_total: ["反向有功总电能", "Export active energy"],
  energy_export_t1: ["反向有功尖电能", "Export energy T1"], energy_export_t2: ["反向有功峰电能", "Export energy T2"],
  energy_export_t3: ["反向有功平电能", "Export energy T3"], energy_export_t4: ["反向有功谷电能", "Export energy T4"],
  energy_reactive_1_total: ["一象限无功电能", "Reactive energy Q1"],
  energy_reactive_2_total: ["二象限无功电能", "Reactive energy Q2"],
  max_demand_import: ["正向有功最大需量", "Maximum demand (import)"],
  voltage_a: ["A相电压", "Voltage A"], voltage_b: ["B相电压", "Voltage B"], voltage_c: ["C相电压", "Voltage C"],
  current_a: ["A相电流", "Current A"], current_b: ["B相电流", "Current B"], current_c: ["C相电流", "Current C"],
  power_active_total: ["总有功功率", "Active power"], power_active_a: ["A相有功功率", "Active power A"],
  power_active_b: ["B相有功功率", "Active power B"], power_active_c: ["C相有功功率", "Active power C"],
  power_reactive_total: ["总无功功率", "Reactive power"], power_apparent_total: ["总视在功率", "Apparent power"],
  pf_total: ["总功率因数", "Power factor"], pf_a: ["A相功率因数", "Power factor A"],
  pf_b: ["B相功率因数", "Power factor B"], pf_c: ["C相功率因数", "Power factor C"],
  frequency: ["电网频率", "Frequency"], power_down_count: ["掉电次数", "Power-down count"],
  cover_open_count: ["开表盖次数", "Cover-open count"], clock_offset: ["时钟偏差", "Clock offset"],
  interval: ["曲线", "interval"], freeze: ["日冻结", "daily freeze"], event: ["事件", "event"],
  clock: ["对时检查", "clock check"], scheduled: ["定时", "scheduled"], backfill: ["补抄", "re-read"],
  on_demand: ["召测", "on demand"], late: ["迟到", "late"], clock_suspect: ["时钟存疑", "clock suspect"],
  degraded: ["逐项读取", "read item by item"], unverified: ["未验证(ESAM MAC)", "not verified (ESAM MAC)"],
  // meter protocols (protocols/vocabulary.py MeterProtocol)
  "dlt645-2007": ["DL/T 645-2007", "DL/T 645-2007"], "dlt645-1997": ["DL/T 645-1997", "DL/T 645-1997"],
  modbus: ["Modbus", "Modbus"], dlt698: ["DL/T 698.45", "DL/T 698.45"],
};
let lang = localStorage.getItem("meterlink.lang") || "zh";
const t = (key) => (I18N[lang] && I18N[lang][key]) || key;
const label = (map, code) => (map[code] ? map[code][lang === "zh" ? 0 : 1] : code);
const ruleName = (code) => label(RULES, code);
const nameOf = (code) => label(NAMES, code);
const main = document.getElementById("main");
const token = () => sessionStorage.getItem("meterlink.token");
const role = () => sessionStorage.getItem("meterlink.role");

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));
}
function pct(rate) { return rate === null || rate === undefined ? "–" : (100 * rate).toFixed(1) + " %"; }

async function api(path, options = {}) {
  const headers = Object.assign({"Content-Type": "application/json"}, options.headers || {});
  if (token()) headers.Authorization = "Bearer " + token();
  const resp = await fetch(path, Object.assign({}, options, {headers}));
  if (resp.status === 401) { sessionStorage.removeItem("meterlink.token"); location.hash = "#/login"; throw new Error("401"); }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    const detail = body.detail || resp.statusText;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return resp.headers.get("content-type")?.includes("json") ? resp.json() : resp.blob();
}

function lineChart(points, {min = 0, max = 1, format = pct} = {}) {
  // points: [{x: label, y: number|null}]; drawn by our own code as SVG
  const w = 600, h = 200, pad = 30;
  const n = Math.max(points.length - 1, 1);
  const X = (i) => pad + (i * (w - 2 * pad)) / n;
  const Y = (v) => h - pad - ((v - min) / (max - min || 1)) * (h - 2 * pad);
  let d = "";
  points.forEach((p, i) => { if (p.y !== null && p.y !== undefined) d += (d ? "L" : "M") + X(i).toFixed(1) + " " + Y(p.y).toFixed(1); });
  const dots = points.map((p, i) => p.y === null || p.y === undefined ? "" :
    `<circle cx="${X(i).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="2.5"><title>${esc(p.x)}: ${esc(format(p.y))}</title></circle>`).join("");
  return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img">
    <line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>
    <text x="2" y="${Y(max) + 4}" font-size="10">${esc(format(max))}</text>
    <text x="2" y="${Y(min) + 4}" font-size="10">${esc(format(min))}</text>
    <text x="${pad}" y="${h - 8}" font-size="10">${esc(points[0]?.x ?? "")}</text>
    <text x="${w - pad - 60}" y="${h - 8}" font-size="10">${esc(points[points.length - 1]?.x ?? "")}</text>
    <path d="${d}" fill="none" stroke="#1b6dc1" stroke-width="2"/>${dots}</svg>`;
}

function table(cols, rows, cell) {
  return `<table><thead><tr>${cols.map((c) => `<th>${esc(t(c))}</th>`).join("")}</tr></thead><tbody>` +
    (rows.length ? rows.map((r) => `<tr>${cols.map((c) => `<td>${cell(r, c)}</td>`).join("")}</tr>`).join("")
      : `<tr><td colspan="${cols.length}">${esc(t("none"))}</td></tr>`) + "</tbody></table>";
}

// one's own password (POST /api/auth/password): the answer's new token replaces the old one,
// which the server has revoked with every other token of the user
Object.assign(I18N.zh, {change_password: "修改密码", current_password: "当前密码", new_password: "新密码",
  password_changed: "密码已修改；其他设备上的登录已失效。", password_rules: "至少12个字符，不能是常见密码。"});
Object.assign(I18N.en, {change_password: "Change password", current_password: "Current password",
  new_password: "New password", password_changed: "Password changed; sessions on other devices are signed out.",
  password_rules: "At least 12 characters, not a common password."});

const pages = {
  async login() {
    main.innerHTML = `<form class="login" id="login-form"><h2>meterlink</h2>
      <label>${esc(t("username"))}<input name="username" id="username" autocomplete="username" required></label>
      <label>${esc(t("password"))}<input name="password" id="password" type="password" autocomplete="current-password" required></label>
      <button class="primary" id="signin" type="submit">${esc(t("signin"))}</button><p class="error" id="login-error"></p></form>`;
    document.getElementById("login-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        const r = await api("/api/auth/login", {method: "POST", body: JSON.stringify({username: f.get("username"), password: f.get("password")})});
        sessionStorage.setItem("meterlink.token", r.token);
        location.hash = "#/overview";
      } catch (e) { document.getElementById("login-error").textContent = e.message; }
    };
  },

  async password() {
    main.innerHTML = `<form class="login" id="password-form"><h2>${esc(t("change_password"))}</h2>
      <label>${esc(t("current_password"))}<input name="current" id="current-password" type="password" autocomplete="current-password" required></label>
      <label>${esc(t("new_password"))}<input name="new" id="new-password" type="password" autocomplete="new-password" minlength="12" required></label>
      <p>${esc(t("password_rules"))}</p>
      <button class="primary" id="change-password" type="submit">${esc(t("change_password"))}</button><p class="error" id="password-message"></p></form>`;
    document.getElementById("password-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const out = document.getElementById("password-message");
      try {
        const r = await api("/api/auth/password", {method: "POST", body: JSON.stringify({current_password: f.get("current"), new_password: f.get("new")})});
        sessionStorage.setItem("meterlink.token", r.token);
        ev.target.reset();
        out.className = "";
        out.textContent = t("password_changed");
      } catch (e) { out.className = "error"; out.textContent = e.message; }
    };
  },

  async overview() {
    const [all, areas, gws, trend, anomalies, offline] = await Promise.all([
      api("/api/completeness"), api("/api/completeness?by=area"), api("/api/completeness?by=gateway"),
      api("/api/completeness/trend?days=30"), api("/api/anomalies?status=open&limit=1"),
      api("/api/gateway-status?online=false")]);
    const g = all.groups[0] || {due: 0, read: 0, rate: null};
    const worst = (rows) => rows.filter((r) => r.due > 0).sort((a, b) => a.rate - b.rate).slice(0, 5);
    main.innerHTML = `<div class="cards">
      <div class="card"><div>${esc(t("rate_yesterday"))} (${esc(all.date)})</div>
        <div class="big ${g.below_threshold ? "bad" : "good"}" id="rate-yesterday">${pct(g.rate)}</div>
        <div id="due-read">${esc(t("read"))} ${g.read} / ${esc(t("due"))} ${g.due}</div></div>
      <div class="card"><div>${esc(t("open_by_kind"))}</div>${table(["rule", "value"], anomalies.open_by_rule,
        (r, c) => c === "rule" ? `<span data-rule="${esc(r.rule)}">${esc(ruleName(r.rule))}</span>` : esc(r.n))}</div>
      <div class="card"><div>${esc(t("offline"))}</div><div class="big" id="offline-count">${offline.total}</div>
        ${offline.items.map((x) => esc(x.id)).join(", ")}</div></div>
      <h3>${esc(t("trend"))}</h3>${lineChart(trend.days.map((d) => ({x: d.date, y: d.rate})))}
      <div class="cards"><div class="card"><h3>${esc(t("worst_areas"))}</h3>${table(["area", "due", "read", "rate"], worst(areas.groups),
        (r, c) => c === "area" ? `<a href="#/areas/${encodeURIComponent(r.key)}">${esc(r.key)}</a>` : c === "rate" ? pct(r.rate) : esc(r[c]))}</div>
      <div class="card"><h3>${esc(t("worst_gateways"))}</h3>${table(["gateway", "due", "read", "rate"], worst(gws.groups),
        (r, c) => c === "gateway" ? esc(r.key) : c === "rate" ? pct(r.rate) : esc(r[c]))}</div></div>`;
  },

  async areas(id) {
    const [rate, loss, meters] = await Promise.all([api("/api/completeness?by=area"), api("/api/line-loss"),
      api(`/api/meters?area_id=${encodeURIComponent(id)}&limit=1000`)]);
    const r = rate.groups.find((x) => x.key === id) || {};
    const l = loss.areas.find((x) => x.area_id === id) || {};
    main.innerHTML = `<h2>${esc(t("area"))} ${esc(id)}</h2><div class="cards">
      <div class="card">${esc(t("rate"))}<div class="big">${pct(r.rate)}</div></div>
      <div class="card">${esc(t("line_loss"))}<div class="big">${l.loss === null || l.loss === undefined ? "–" : pct(l.loss)}</div></div></div>
      <h3>${esc(t("meters"))}</h3>${table(["meter", "gateway", "protocol"], meters.items,
        (m, c) => c === "meter" ? `<a href="#/meters/${encodeURIComponent(m.id)}">${esc(m.id)}</a>`
          : c === "protocol" ? esc(nameOf(m.protocol)) : esc(m.gateway_id))}`;
  },

  async failed() {
    const data = await api("/api/failed-meters");
    main.innerHTML = `<h2>${esc(t("failed"))} (${esc(data.date)})</h2>
      <div class="toolbar"><button id="download-csv">${esc(t("download_csv"))}</button><span id="msg"></span></div>
      ${table(["meter", "area", "gateway", "reason", "last_good", "actions"], data.items, (r, c) => ({
        meter: `<a href="#/meters/${encodeURIComponent(r.meter_id)}">${esc(r.meter_id)}</a>`, area: esc(r.area_id),
        gateway: esc(r.gateway_id), reason: esc(failedReason(r)),
        last_good: esc(r.last_good_ts ? `${r.last_good_date} ${r.last_good_value}` : t("none")),
        actions: `<button class="reread" data-meter="${esc(r.meter_id)}">${esc(t("reread"))}</button>`}[c]))}`;
    document.getElementById("download-csv").onclick = async () => {
      const blob = await api(`/api/failed-meters?date=${data.date}&format=csv`);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob); a.download = `failed-meters-${data.date}.csv`; a.click();
    };
    main.querySelectorAll("button.reread").forEach((b) => b.onclick = async () => {
      try {
        const res = await api("/api/reread", {method: "POST", body: JSON.stringify({items: [{meter: b.dataset.meter, date: String(data.date)}]})});
        // say what the server did: queued now, left with a pending command, or nothing
        const sum = (o) => Object.values(o || {}).reduce((a, n) => a + n, 0);
        const state = sum(res.requested) ? "requested" : sum(res.already_pending) ? "already_pending" : "not_requested";
        b.disabled = state !== "not_requested"; b.textContent = t(state); b.dataset.state = state;
      } catch (e) { document.getElementById("msg").textContent = e.message; }
    });
  },

  async anomalies() {
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    const data = await api("/api/anomalies?" + q.toString());
    const rules = ["", ...Object.keys(RULES)];
    main.innerHTML = `<h2>${esc(t("anomalies"))}</h2><div class="toolbar">
      <select id="f-rule">${rules.map((r) => `<option value="${r}" ${q.get("rule") === r ? "selected" : ""}>${esc(r ? ruleName(r) : t("all"))}</option>`).join("")}</select>
      <select id="f-status">${["", "open", "confirmed", "dismissed", "closed"].map((s) => `<option value="${s}" ${q.get("status") === s ? "selected" : ""}>${esc(s || t("all"))}</option>`).join("")}</select>
      <span id="msg"></span></div>
      ${table(["meter", "area", "rule", "status", "first", "last", "actions"], data.items, (r, c) => ({
        meter: r.meter_id ? `<a href="#/meters/${encodeURIComponent(r.meter_id)}">${esc(r.meter_id)}</a>` : "",
        area: esc(r.area_id), rule: `<span data-rule="${esc(r.rule)}" title="${esc(r.rule)}">${esc(ruleName(r.rule))}</span>`, status: `<span class="status">${esc(r.status)}</span>`,
        first: esc(r.first_date), last: esc(r.last_date),
        actions: (r.status === "open" ? ["confirmed", "dismissed"] : r.status === "closed" ? [] : ["closed"]).map((s) =>
          `<button class="act" data-id="${r.id}" data-status="${s}">${esc(t({confirmed: "confirm", dismissed: "dismiss", closed: "close"}[s]))}</button>`).join(" ")}[c]))}`;
    const refilter = () => { const p = new URLSearchParams();
      const rv = document.getElementById("f-rule").value, sv = document.getElementById("f-status").value;
      if (rv) p.set("rule", rv); if (sv) p.set("status", sv); location.hash = "#/anomalies?" + p.toString(); };
    document.getElementById("f-rule").onchange = refilter;
    document.getElementById("f-status").onchange = refilter;
    main.querySelectorAll("button.act").forEach((b) => b.onclick = async () => {
      const answer = prompt(t("comment"), "");
      if (answer === null) return;  // cancelled: the anomaly stays as it is
      const comment = answer || "-";
      try {
        await api(`/api/anomalies/${b.dataset.id}/status`, {method: "POST", body: JSON.stringify({status: b.dataset.status, comment})});
        route();
      } catch (e) { document.getElementById("msg").textContent = e.message; }
    });
  },

  async meters(id) {
    // one data date (the date picker; default: yesterday in the utility time zone, as the
    // server decides): its load curve, raw readings (paged), the daily consumption by tariff
    // of the 31 days up to it and the meter's events of those days (paged)
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    const m = encodeURIComponent(id);
    const PAGE = 50, EPAGE = 20, TARIFFS = ["energy_import_total", "energy_import_t1",
      "energy_import_t2", "energy_import_t3", "energy_import_t4"];
    const rOff = Math.max(0, Number(q.get("roffset")) || 0), eOff = Math.max(0, Number(q.get("eoffset")) || 0);
    const chosen = /^\d{4}-\d{2}-\d{2}$/.test(q.get("date") || "") ? q.get("date") : "";
    const raw = await api(`/api/meters/${m}/readings?limit=${PAGE}&offset=${rOff}` + (chosen ? `&date=${chosen}` : ""));
    const day = raw.date;
    const shift = (d, n) => new Date(Date.parse(d + "T00:00:00Z") + n * 86400000).toISOString().slice(0, 10);
    const [curve, latest, freeze, events] = await Promise.all([
      api(`/api/meters/${m}/curve?quantity=power_active_total&start=${encodeURIComponent(raw.start)}&end=${encodeURIComponent(raw.end)}`),
      api(`/api/meters/${m}/latest`),
      api(`/api/meters/${m}/freeze?start=${shift(day, -31)}&end=${day}`),
      api(`/api/meters/${m}/events?date=${day}&days=31&limit=${EPAGE}&offset=${eOff}`)]);
    const local = new Intl.DateTimeFormat("sv-SE", {timeZone: raw.timezone, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
    const when = (ts) => local.format(new Date(ts));
    const pts = curve.points.map((p) => ({x: when(p.ts).slice(11, 16), y: p.value}));
    const maxY = Math.max(0.001, ...pts.map((p) => p.y));
    const byDay = {};
    freeze.freezes.forEach((f) => { (byDay[f.data_date] = byDay[f.data_date] || {})[f.quantity] = f.value; });
    const daily = [];
    for (let k = 30; k >= 0; k--) {
      const d = shift(day, -k), p = byDay[shift(d, -1)], c = byDay[d];
      if (!c && !p) continue;
      const row = {date: d};
      TARIFFS.forEach((qn) => { row[qn] = c && p && c[qn] !== undefined && p[qn] !== undefined ? (c[qn] - p[qn]).toFixed(2) : "–"; });
      daily.push(row);
    }
    const today = daily.find((r) => r.date === day);
    const go = (changes) => {
      const p = new URLSearchParams(q);
      Object.entries(changes).forEach(([k, v]) => (v ? p.set(k, v) : p.delete(k)));
      location.hash = `#/meters/${m}?` + p.toString();
    };
    const pager = (name, data, size) => `<div class="toolbar pager" id="${name}-pager">
      <button id="${name}-prev" ${data.offset > 0 ? "" : "disabled"}>${esc(t("prev"))}</button>
      <span id="${name}-range">${esc(t("rows_of").replace("{n}", data.total).replace("{a}", data.total ? data.offset + 1 : 0)
        .replace("{b}", Math.min(data.offset + size, data.total)))}</span>
      <button id="${name}-next" ${data.offset + size < data.total ? "" : "disabled"}>${esc(t("next"))}</button></div>`;
    const unitOf = (r) => r.unit ? " " + r.unit : "";
    main.innerHTML = `<h2>${esc(t("meter"))} ${esc(id)}</h2>
      <div class="toolbar"><label for="meter-date">${esc(t("data_date"))}</label>
        <input type="date" id="meter-date" value="${esc(day)}" max="${esc(shift(new Date().toISOString().slice(0, 10), 1))}">
        <span class="muted">${esc(raw.timezone)}</span></div>
      <div class="cards"><div class="card">${esc(t("day_kwh"))} (${esc(day)})
        <div class="big" id="day-kwh">${esc(today ? today.energy_import_total : "–")}${today && today.energy_import_total !== "–" ? " kWh" : ""}</div></div></div>
      <h3>${esc(t("load_curve"))} · ${esc(day)}</h3>
      ${pts.length ? lineChart(pts, {min: 0, max: maxY, format: (v) => Number(v).toFixed(2) + " kW"})
        : `<p class="muted" id="no-curve">${esc(t("no_curve"))}</p>`}
      <h3>${esc(t("daily"))}</h3><div id="daily">${table(["date", ...TARIFFS], daily, (r, c) =>
        `<span data-date="${esc(r.date)}" data-q="${esc(c)}"${r.date === day ? ' class="chosen"' : ""}>${esc(r[c])}</span>`)}</div>
      <h3>${esc(t("raw"))}</h3>${pager("raw", raw, PAGE)}<div id="raw">${table(["time", "quantity", "value", "kind", "source", "quality"], raw.items, (r, c) => ({
        time: esc(when(r.ts)), quantity: `<span title="${esc(r.quantity)}">${esc(nameOf(r.quantity))}</span>`,
        value: `<span class="num">${esc(r.value)}</span>${esc(unitOf(r))}`, kind: esc(nameOf(r.kind)), source: esc(nameOf(r.source)),
        quality: esc((r.quality || []).map(nameOf).join(", "))}[c]))}</div>
      <h3>${esc(t("events"))} <small class="muted">(${esc(t("events_window"))}: ${esc(events.from)} – ${esc(events.to)})</small></h3>
      ${pager("events", events, EPAGE)}<div id="events">${table(["time", "quantity", "value"], events.items, (r, c) => ({
        time: esc(when(r.ts)), quantity: `<span title="${esc(r.quantity)}">${esc(nameOf(r.quantity))}</span>`,
        value: `<span class="num">${esc(r.value)}</span>${esc(unitOf(r))}`}[c]))}</div>
      <h3>${esc(t("latest"))}</h3>${table(["quantity", "value", "time"], latest.values, (r, c) => ({
        quantity: `<span title="${esc(r.quantity)}">${esc(nameOf(r.quantity))}</span>`, value: esc(r.value), time: esc(when(r.ts))}[c]))}`;
    main.dataset.date = day;
    document.getElementById("meter-date").onchange = (ev) => {
      if (/^\d{4}-\d{2}-\d{2}$/.test(ev.target.value)) go({date: ev.target.value, roffset: "", eoffset: ""});
    };
    document.getElementById("raw-prev").onclick = () => go({date: day, roffset: String(Math.max(0, raw.offset - PAGE))});
    document.getElementById("raw-next").onclick = () => go({date: day, roffset: String(raw.offset + PAGE)});
    document.getElementById("events-prev").onclick = () => go({date: day, eoffset: String(Math.max(0, events.offset - EPAGE))});
    document.getElementById("events-next").onclick = () => go({date: day, eoffset: String(events.offset + EPAGE)});
  },

  async audit() {
    // the audit log, newest first: filters and the page live in the address (#/audit?actor=…)
    if (role() !== "admin") { main.innerHTML = `<p class="error" id="audit-refused">${esc(t("audit_admin_only"))}</p>`; return; }
    const q = new URLSearchParams(location.hash.split("?")[1] || "");
    const PAGE = 50, off = Math.max(0, Number(q.get("offset")) || 0);
    const FIELDS = ["entity", "entity_id", "actor", "action"];
    const day = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || "") ? v : "";
    // a picked day is the browser's local day: from its midnight, to the midnight after it
    const instant = (d, plus = 0) => new Date(new Date(d + "T00:00:00").getTime() + plus * 86400000).toISOString();
    const p = new URLSearchParams({limit: String(PAGE), offset: String(off)});
    FIELDS.forEach((f) => { if (q.get(f)) p.set(f, q.get(f)); });
    if (day(q.get("from"))) p.set("from", instant(q.get("from")));
    if (day(q.get("to"))) p.set("to", instant(q.get("to"), 1));
    const data = await api("/api/audit?" + p.toString());
    const json = (v) => v === null || v === undefined ? "∅" : JSON.stringify(v);
    const changes = (r) => {
      const b = r.before && typeof r.before === "object" ? r.before : {}, a = r.after && typeof r.after === "object" ? r.after : {};
      const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => json(b[k]) !== json(a[k]));
      const lines = keys.slice(0, 6).map((k) => `<div><span class="muted">${esc(k)}:</span> ${k in b ? esc(json(b[k])) + " → " : ""}${esc(json(a[k]))}</div>`).join("");
      return lines + (keys.length > 6 ? `<div class="muted">… +${keys.length - 6}</div>` : "");
    };
    const local = new Intl.DateTimeFormat("sv-SE", {year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
    const go = (changes) => {
      const n = new URLSearchParams(q);
      Object.entries(changes).forEach(([k, v]) => (v ? n.set(k, v) : n.delete(k)));
      location.hash = "#/audit?" + n.toString();
    };
    main.innerHTML = `<h2>${esc(t("audit"))}</h2>
      <form class="toolbar" id="audit-filters">
        ${FIELDS.map((f) => `<label>${esc(t(f))} <input id="f-${f}" name="${f}" size="12" maxlength="200" value="${esc(q.get(f) || "")}"></label>`).join("")}
        <label>${esc(t("from"))} <input type="date" id="f-from" name="from" value="${esc(day(q.get("from")))}"></label>
        <label>${esc(t("to"))} <input type="date" id="f-to" name="to" value="${esc(day(q.get("to")))}"></label>
        <button class="primary" type="submit" id="audit-search">${esc(t("search"))}</button>
        <button type="button" id="audit-reset">${esc(t("reset"))}</button></form>
      <div class="toolbar pager" id="audit-pager">
        <button id="audit-prev" ${off > 0 ? "" : "disabled"}>${esc(t("prev"))}</button>
        <span id="audit-range">${esc(t("rows_of").replace("{n}", data.total).replace("{a}", data.total ? off + 1 : 0)
          .replace("{b}", Math.min(off + PAGE, data.total)))}</span>
        <button id="audit-next" ${off + PAGE < data.total ? "" : "disabled"}>${esc(t("next"))}</button></div>
      <div id="audit-rows">${table(["time", "actor", "action", "entity", "entity_id", "changes"], data.items, (r, c) => ({
        time: `<span title="${esc(r.at)}">${esc(local.format(new Date(r.at)))}</span>`, actor: esc(r.actor),
        action: `<span class="audit-action">${esc(r.action)}</span>`, entity: esc(r.entity), entity_id: esc(r.entity_id),
        changes: `<div class="changes">${changes(r)}</div>`}[c]))}</div>`;
    document.getElementById("audit-filters").onsubmit = (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target), n = new URLSearchParams();
      for (const [k, v] of f.entries()) if (String(v).trim()) n.set(k, String(v).trim());
      location.hash = "#/audit?" + n.toString();
    };
    document.getElementById("audit-reset").onclick = () => { location.hash = "#/audit"; };
    document.getElementById("audit-prev").onclick = () => go({offset: String(Math.max(0, off - PAGE))});
    document.getElementById("audit-next").onclick = () => go({offset: String(off + PAGE)});
  },

  async gateways() {
    const data = await api("/api/gateway-status?limit=1000");
    main.innerHTML = `<h2>${esc(t("gateways"))}</h2>${table(["gateway", "online", "outbox", "version", "last"], data.items, (g, c) => ({
      gateway: esc(g.id), online: g.online ? `<span class="good">${esc(t("yes"))}</span>` : `<span class="bad">${esc(t("no"))}</span>`,
      outbox: esc(g.status ? g.status.outbox_depth : "–"), version: esc(g.version), last: esc(g.last_seen)}[c]))}`;
  },
};

async function route() {
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.getElementById("lang").textContent = lang === "zh" ? "EN" : "中文";
  document.documentElement.lang = lang;
  const [path] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  const signedIn = Boolean(token());
  if (!signedIn) sessionStorage.removeItem("meterlink.role");
  else if (!role()) await api("/api/auth/me").then((me) => sessionStorage.setItem("meterlink.role", me.role)).catch(() => {});
  // entries for one role only (data-role) are shown to that role alone
  document.querySelectorAll("#nav [data-role]").forEach((a) => { a.hidden = a.dataset.role !== role(); });
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("logout").hidden = !signedIn;
  document.getElementById("password-link").hidden = !signedIn;
  const name = signedIn ? (parts[0] || "overview") : "login";
  delete main.dataset.date;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === "#/" + name));
  try {
    if (signedIn) await loadRules();
    await (pages[name] || pages.overview)(decodeURIComponent(parts[1] || ""));
  }
  catch (e) { if (e.message !== "401") main.innerHTML = `<p class="error">${esc(e.message)}</p>`; }
  main.dataset.page = name;
}
document.getElementById("lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("meterlink.lang", lang); route(); };
document.getElementById("logout").onclick = async () => { await api("/api/auth/logout", {method: "POST"}).catch(() => {}); sessionStorage.removeItem("meterlink.token"); location.hash = "#/login"; };
window.addEventListener("hashchange", route);
route();
