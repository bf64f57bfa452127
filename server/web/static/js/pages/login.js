// Sign-in: a wrong password, a locked account or a server that cannot be reached each say
// so in words (never a bare status code).
import {api, session} from "../api.js";
import {t} from "../i18n.js";
import {$, esc} from "../ui.js";

export default async function login({main, q}) {
  main.innerHTML = `<form class="login" id="login-form" novalidate><h2>${esc(t("app"))}</h2>
    <label>${esc(t("username"))}<input name="username" id="username" autocomplete="username" required></label>
    <label>${esc(t("password"))}<input name="password" id="password" type="password" autocomplete="current-password" required></label>
    <button class="primary" id="signin" type="submit">${esc(t("signin"))}</button>
    <p class="error" id="login-error" role="alert">${q.get("expired") ? esc(t("err_session")) : ""}</p></form>`;
  $("#login-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const out = $("#login-error");
    out.textContent = "";
    if (!f.get("username") || !f.get("password")) { out.textContent = t("err_credentials"); return; }
    $("#signin").disabled = true;
    try {
      const r = await api("/api/auth/login", {method: "POST", body: JSON.stringify({username: f.get("username"), password: f.get("password")})});
      session.set(r.token, r.username || f.get("username"), r.role);
      const me = await api("/api/auth/me");
      session.set(r.token, me.username, me.role);
      location.hash = "#/report";
    } catch (e) {
      out.textContent = e.message;
      $("#password").value = "";
      $("#password").focus();
    } finally {
      $("#signin").disabled = false;
    }
  };
}
