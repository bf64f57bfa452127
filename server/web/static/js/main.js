// The shell: navigation (with the search box on every page), the signed-in user and role,
// the language switch, and a tiny hash router that loads one module per page
// (js/pages/<name>.js), shows loading and error states and refreshes live pages.
import {api, can, loadRules, session} from "./api.js";
import {disposeAll} from "./charts.js";
import {getLang, setLang, t, when} from "./i18n.js";
import {$, $$, failure, loading} from "./ui.js";

const PAGES = {
  login: "login", password: "password", report: "report", failed: "failed", meters: "meter",
  anomalies: "anomalies", lineloss: "lineloss", gateways: "gateways", archive: "archive",
  search: "archive", admin: "admin", audit: "admin", reread: "batches", commands: "commands",
};
const main = $("#main");
let generation = 0;
let timer = null;

function shell() {
  document.documentElement.lang = getLang();
  $$("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $$("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
  $("#lang").textContent = getLang() === "zh" ? "EN" : "中文";
  const signedIn = Boolean(session.token);
  $("#nav").hidden = !signedIn;
  $("#user-box").hidden = !signedIn;
  $("#search-form").hidden = !signedIn;
  $$("[data-min-role]").forEach((el) => { el.hidden = !signedIn || !can(el.dataset.minRole); });
  $("#who").textContent = signedIn ? `${session.user || ""} · ${t("role_" + session.role)}` : "";
}

async function route() {
  const my = ++generation;
  clearTimeout(timer);
  disposeAll();
  const [path, query] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  if (session.token && !session.role) {
    const me = await api("/api/auth/me").catch(() => null);
    if (me) session.set(session.token, me.username, me.role);
  }
  const signedIn = Boolean(session.token);
  const name = !signedIn ? "login" : PAGES[parts[0]] ? parts[0] : "report";
  shell();
  $$("#nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === "#/" + (name === "search" ? "archive" : name === "reread" ? "failed" : name)));
  main.dataset.page = name;
  delete main.dataset.dirty;
  delete main.dataset.date;
  main.dataset.state = "loading";
  const q = new URLSearchParams(query || "");
  const ctx = {
    main, name, q, arg: decodeURIComponent(parts[1] || ""), lang: getLang(),
    go(changes, base = `#/${parts.join("/")}`) {
      const n = new URLSearchParams(q);
      Object.entries(changes).forEach(([k, v]) => (v === "" || v === null || v === undefined ? n.delete(k) : n.set(k, String(v))));
      location.hash = base + (n.toString() ? "?" + n.toString() : "");
    },
    stale: () => my !== generation,
    reload: () => route(),
  };
  const render = async (quiet) => {
    if (!quiet) loading(main);
    try {
      if (signedIn) await loadRules();
      const mod = await import(`./pages/${PAGES[name]}.js`);
      if (ctx.stale()) return;
      if (quiet) disposeAll();
      await mod.default(ctx);
      if (ctx.stale()) return;
      main.dataset.state = "ready";
      const every = mod.refresh;
      $("#live").textContent = every ? `${t("auto_refresh", {n: every})} · ${t("refreshed")} ${when(new Date(), {seconds: true}).slice(-8)}` : "";
      if (every) {
        timer = setTimeout(() => {
          // a live page refreshes itself, but never under an open dialog or a half-filled form
          if (!ctx.stale() && !$("#dialog").open && !main.dataset.dirty) render(true);
          else timer = setTimeout(() => render(true), every * 1000);
        }, every * 1000);
      }
    } catch (e) {
      if (ctx.stale() || (e.status === 401 && name !== "login")) return;
      main.dataset.state = "error";
      failure(main, e, () => render(false));
    }
  };
  await render(false);
}

$("#lang").onclick = () => { setLang(getLang() === "zh" ? "en" : "zh"); route(); };
$("#logout").onclick = async () => {
  await api("/api/auth/logout", {method: "POST"}).catch(() => {});
  session.clear();
  location.hash = "#/login";
};
$("#search-form").onsubmit = (ev) => {
  ev.preventDefault();
  const v = $("#search").value.trim();
  if (v) location.hash = "#/search?q=" + encodeURIComponent(v);
};
window.addEventListener("hashchange", route);
route();
