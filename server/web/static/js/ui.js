// Building blocks of every page: escaping, tables with their export buttons, pagers,
// loading and error states, and a modal dialog (instead of window.prompt).
import {download, param} from "./api.js";
import {getLang, int, t, when} from "./i18n.js";

export function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// a table: cols are [key, heading key] or key; cell(row, key) returns HTML
export function table(cols, rows, cell, {id = "", cls = "", rowAttrs = () => ""} = {}) {
  const cs = cols.map((c) => (Array.isArray(c) ? c : [c, c]));
  const head = cs.map(([k, h]) => `<th data-col="${esc(k)}">${h.startsWith("<") ? h : esc(t(h))}</th>`).join("");
  const body = rows.length
    ? rows.map((r) => `<tr ${rowAttrs(r)}>${cs.map(([k]) => `<td data-col="${esc(k)}">${cell(r, k) ?? ""}</td>`).join("")}</tr>`).join("")
    : `<tr><td class="empty" colspan="${cs.length}">${esc(t("none"))}</td></tr>`;
  return `<div class="table-wrap"><table${id ? ` id="${id}"` : ""} class="${cls}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

// "1–50 of 230" and previous/next; onPage(offset) moves
export function pager(name, page, onPage) {
  const {total, limit, offset} = page;
  const html = `<div class="pager" id="${name}-pager">
    <button type="button" id="${name}-prev" ${offset > 0 ? "" : "disabled"}>${esc(t("prev"))}</button>
    <span id="${name}-range">${esc(t("rows_of", {n: int(total), a: total ? int(offset + 1) : 0, b: int(Math.min(offset + limit, total))}))}</span>
    <button type="button" id="${name}-next" ${offset + limit < total ? "" : "disabled"}>${esc(t("next"))}</button></div>`;
  const bind = () => {
    $(`#${name}-prev`).onclick = () => onPage(Math.max(0, offset - limit));
    $(`#${name}-next`).onclick = () => onPage(offset + limit);
  };
  return {html, bind};
}

// export buttons for a list endpoint and its current filters, where the endpoint exports
// (its OpenAPI document lists a ``format`` parameter); none where it does not yet
// (its OpenAPI document lists a ``format`` parameter; ``doc``: the path as the document
// names it, e.g. /api/org/areas/{area_id}/gateways, when ``path`` fills in an id)
export async function exportButtons(name, path, params, filename, doc = path) {
  if ((await param(doc, "format", "")) !== "format") return {html: "", bind() {}};
  const html = `<span class="exports"><button type="button" class="export" id="${name}-xlsx">${esc(t("export_xlsx"))}</button>
    <button type="button" class="export" id="${name}-csv">${esc(t("export_csv"))}</button></span>`;
  const bind = () => {
    for (const fmt of ["xlsx", "csv"]) {
      $(`#${name}-${fmt}`).onclick = async (ev) => {
        ev.target.disabled = true;
        try { await download(path, params, fmt, getLang(), filename); } catch (e) { toast(e.message, true); }
        ev.target.disabled = false;
      };
    }
  };
  return {html, bind};
}

export function loading(el) { el.innerHTML = `<p class="loading" role="status">${esc(t("loading"))}</p>`; }
export function failure(el, err, retry) {
  el.innerHTML = `<div class="failure" role="alert"><p class="error" id="page-error">${esc(err.message)}</p>
    ${err.detail ? `<details><summary>${esc(t("details"))}</summary><code>${esc(typeof err.detail === "string" ? err.detail : JSON.stringify(err.detail))}</code></details>` : ""}
    ${retry ? `<button type="button" id="retry">${esc(t("retry"))}</button>` : ""}</div>`;
  if (retry) $("#retry", el).onclick = retry;
}
export function toast(message, bad = false) {
  const el = $("#toast");
  el.textContent = message;
  el.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = ""; }, 6000);
}

// a modal dialog with a form; resolves to the form's values, or null when cancelled
export function dialog(title, fieldsHtml, {okText = t("ok"), validate = () => null} = {}) {
  const dlg = $("#dialog");
  dlg.innerHTML = `<form method="dialog" id="dialog-form"><h3>${esc(title)}</h3>${fieldsHtml}
    <p class="error" id="dialog-error"></p>
    <div class="buttons"><button type="button" id="dialog-cancel">${esc(t("cancel"))}</button>
    <button type="submit" class="primary" id="dialog-ok">${esc(okText)}</button></div></form>`;
  return new Promise((resolve) => {
    const form = $("#dialog-form", dlg);
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      const problem = validate(values);
      if (problem) { $("#dialog-error", dlg).textContent = problem; return; }
      dlg.close();
      resolve(values);
    };
    $("#dialog-cancel", dlg).onclick = () => { dlg.close(); resolve(null); };
    dlg.oncancel = () => resolve(null);
    dlg.showModal();
    const first = form.querySelector("textarea, input, select");
    if (first) first.focus();
  });
}
export function option(value, text, selected) {
  return `<option value="${esc(value)}"${selected ? " selected" : ""}>${esc(text)}</option>`;
}
export const isDay = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || "");
export const shiftDay = (d, n) => new Date(Date.parse(d + "T00:00:00Z") + n * 86400000).toISOString().slice(0, 10);

// printing (the @media print rules of style.css: A4, no navigation or buttons, tables whole
// rows): a 打印 button, and the title line only paper shows (what, scope, when printed)
export function printButton() { return `<button type="button" class="print-button" id="print">${esc(t("print"))}</button>`; }
export function bindPrint() { const b = $("#print"); if (b) b.onclick = () => window.print(); }
export function printTitle(what, scope) {
  return `<p class="print-title" id="print-title">${esc(what)} · ${esc(t("printed_scope"))}: ${esc(scope)} · ${esc(t("printed_at"))} ${esc(when(new Date()))}</p>`;
}
