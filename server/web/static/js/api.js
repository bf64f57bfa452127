// Talking to the meterlink API: the bearer token, the signed-in user, errors in the
// clerk's language (the server's own English text is kept as a technical detail), file
// downloads (exports) and a probe for endpoints that may not exist on this server yet.
import {registerCodes, t} from "./i18n.js";

export const session = {
  get token() { return sessionStorage.getItem("meterlink.token"); },
  get role() { return sessionStorage.getItem("meterlink.role"); },
  get user() { return sessionStorage.getItem("meterlink.user"); },
  set(token, user, role) {
    sessionStorage.setItem("meterlink.token", token);
    if (user) sessionStorage.setItem("meterlink.user", user);
    if (role) sessionStorage.setItem("meterlink.role", role);
  },
  clear() { ["token", "role", "user"].forEach((k) => sessionStorage.removeItem("meterlink." + k)); },
};
const RANK = {viewer: 1, operator: 2, admin: 3};
// whether the signed-in user's role is at least ``role``
export const can = (role) => (RANK[session.role] || 0) >= (RANK[role] || 99);

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(messageFor(status, detail, path));
    this.status = status;
    this.detail = detail;
  }
}
function messageFor(status, detail, path) {
  const d = typeof detail === "string" ? detail : JSON.stringify(detail ?? "");
  if (status === 0) return t("err_network");
  if (/current password is wrong/i.test(d)) return t("err_wrong_current");
  if (status === 503) return t("err_busy");
  if (status === 401) return path === "/api/auth/login" ? t("err_credentials") : t("err_session");
  if (status === 423 || /locked/i.test(d)) return t("err_locked");
  if (status === 429) return t("err_rate");
  if (status === 403) return t("err_forbidden");
  if (status === 404) return t("err_not_found");
  if (status === 409) return t("err_conflict");
  if (status === 422 || status === 400) {
    if (/common/i.test(d)) return t("err_common_password");
    return t("err_invalid") + (document.documentElement.lang === "en" ? d : "");
  }
  return t("err_server");
}

export async function api(path, options = {}) {
  // a FormData body (an upload) sets its own multipart type
  const json = options.body && !(options.body instanceof FormData);
  const headers = Object.assign({}, json ? {"Content-Type": "application/json"} : {}, options.headers || {});
  if (session.token) headers.Authorization = "Bearer " + session.token;
  let resp;
  try {
    resp = await fetch(path, Object.assign({}, options, {headers}));
  } catch {
    throw new ApiError(0, "network", path);
  }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    const err = new ApiError(resp.status, body.detail ?? resp.statusText, path);
    if (resp.status === 401 && path !== "/api/auth/login" && path !== "/api/auth/password") {
      session.clear();
      location.hash = "#/login?expired=1";
    }
    throw err;
  }
  if (resp.status === 204) return null;
  return (resp.headers.get("content-type") || "").includes("json") ? resp.json() : resp.blob();
}
export const post = (path, body) => api(path, {method: "POST", body: JSON.stringify(body)});

// whether this server has the GET endpoint ``path`` (one another change adds), from its
// OpenAPI document (read once): a page uses it where it exists, the older one where not
let paths = null;
const load = () => { if (!paths) paths = fetch("/openapi.json").then((r) => r.json()).then((d) => d.paths || {}).catch(() => ({})); };
export async function has(path, method = "get") {
  load();
  const norm = (x) => x.replace(/\{[^}]*\}/g, "{}");
  const want = norm(path.split("?")[0]);
  return Object.entries(await paths).some(([k, v]) => norm(k) === want && v[method]);
}
// the name this server gives a filter of GET ``path``: the first of ``names`` its OpenAPI
// document lists (the issue 19 naming, e.g. area_id, before the older one, e.g. area)
export async function param(path, ...names) {
  load();
  const op = ((await paths) || {})[path]?.get;
  const known = new Set((op?.parameters || []).map((x) => x.name));
  return names.find((n) => known.has(n)) || names[names.length - 1];
}

// an export of a list endpoint: the same query, format=csv|xlsx and the page's language
export async function download(path, params, format, lang, filename) {
  const p = new URLSearchParams(params);
  p.set("format", format);
  p.set("lang", lang);
  p.delete("limit");
  p.delete("offset");
  const blob = await api(path + "?" + p.toString());
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${filename}.${format}`;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// the anomaly rules (GET /api/rules): their names in both languages, once per session
let rules = null;
export async function loadRules() {
  if (rules) return rules;
  const data = await api("/api/rules");
  registerCodes("rule", Object.fromEntries(data.rules.map((r) => [r.name, [r.label.zh, r.label.en]])));
  rules = data.rules;
  return rules;
}
