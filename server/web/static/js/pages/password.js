// One's own password (POST /api/auth/password): the answer's new token replaces the old
// one, which the server has revoked with every other token of the user.
import {api, session} from "../api.js";
import {t} from "../i18n.js";
import {$, esc} from "../ui.js";

export default async function password({main}) {
  main.innerHTML = `<form class="login" id="password-form"><h2>${esc(t("change_password"))}</h2>
    <label>${esc(t("current_password"))}<input name="current" id="current-password" type="password" autocomplete="current-password" required></label>
    <label>${esc(t("new_password"))}<input name="new" id="new-password" type="password" autocomplete="new-password" minlength="12" required></label>
    <p class="muted">${esc(t("password_rules"))}</p>
    <button class="primary" id="change-password" type="submit">${esc(t("change_password"))}</button><p class="error" id="password-message" role="alert"></p></form>`;
  $("#password-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const out = $("#password-message");
    try {
      const r = await api("/api/auth/password", {method: "POST", body: JSON.stringify({current_password: f.get("current"), new_password: f.get("new")})});
      session.set(r.token);
      ev.target.reset();
      out.className = "";
      out.textContent = t("password_changed");
    } catch (e) { out.className = "error"; out.textContent = e.message; }
  };
}
