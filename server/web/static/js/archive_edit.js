// Keeping the archive (档案维护) by hand, for administrators: import meters from the
// utility's customer system (CSV or XLSX, all or nothing: every bad cell is listed by its row
// and the heading the clerk's own file gives it), download the empty template, and correct one
// meter's archive on its page (PATCH /api/meters/{id}, audited). Other roles see none of it
// (the server refuses them as well).
import {api, can} from "./api.js";
import {code, getLang, int, t} from "./i18n.js";
import {$, dialog, esc, option, table, toast} from "./ui.js";

const MAX_MB = 50;
const NONE = {html: "", bind() {}};

// a reason the importer gives (server/archive/importer.py, validate.py), in the clerk's
// language; one it does not know is shown as the server wrote it
const REASONS = [
  [/^required$/, "imp_required"], [/^unknown column$/, "imp_unknown"], [/^required column missing$/, "imp_missing"],
  [/^before installed_on$/, "imp_before_install"], [/^duplicate of row (\d+)$/, "imp_duplicate"],
  [/^expected 12 digits, got (.*)$/, "imp_address"], [/^expected 2007, 1997, 698\.45 or modbus, got (.*)$/, "imp_protocol"],
  [/^expected a date YYYY-MM-DD, got (.*)$/, "imp_date"], [/^expected yes\/no, got (.*)$/, "imp_bool"],
  [/^expected 1 or 3 .*, got (.*)$/, "imp_phases"], [/^expected one of .*, got (.*)$/, "imp_class"],
  [/^(?:expected a number, got|not a number:|not an integer:) (.*)$/, "imp_number"],
  [/^(\S+) is out of range: (above|at least) (\S+) and at most (\S+)$/, "imp_range"],
  [/^(\d+) characters: at most (\d+)$/, "imp_long"],
];
function reason(text) {
  if (getLang() === "en") return text;
  for (const [re, key] of REASONS) {
    const m = re.exec(text);
    if (m) return t(key, {n: m[1], a: m[1], op: m[2] === "above" ? "大于" : "不小于", lo: m[3], hi: m[4], b: m[2]});
  }
  return text;
}

function saveAs(blob, filename) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

// what an import did, or every problem that stopped it, in ``out``
function showOutcome(out, result, err) {
  if (result) {
    out.innerHTML = `<p class="ok" id="import-ok" role="status">${esc(t("imp_done", {n: int(result.imported), c: int(result.created), u: int(result.updated)}))}</p>`;
    return;
  }
  const detail = err.detail && typeof err.detail === "object" ? err.detail : null;
  if (err.status === 422 && detail && Array.isArray(detail.errors)) {
    const total = Number((/(\d+) problems/.exec(detail.message || "") || [])[1]) || detail.errors.length;
    out.innerHTML = `<div class="failure" role="alert"><p class="error" id="import-refused">${esc(t("imp_refused", {n: int(total)}))}</p>
      ${total > detail.errors.length ? `<p class="muted">${esc(t("imp_first", {n: int(detail.errors.length)}))}</p>` : ""}
      ${table(["row", "column", ["reason", "imp_problem"]], detail.errors, (e, c) => ({row: esc(int(e.row)), column: esc(e.header || e.column),
        reason: esc(reason(e.reason))}[c]), {id: "import-errors"})}</div>`;
    return;
  }
  // the file as a whole (not CSV/XLSX, too large, no header...): the server's sentence
  const said = typeof err.detail === "string" ? err.detail : "";
  out.innerHTML = `<div class="failure" role="alert"><p class="error" id="import-refused">${esc(t("imp_file_refused"))}</p>
    ${said ? `<p><code>${esc(said)}</code></p>` : ""}</div>`;
}

// the archive page's import and template buttons; ``outSelector``: where the outcome goes,
// ``reload``: redraws the page after an import (the tree and the area list count the new meters)
export function importTools(outSelector, reload) {
  if (!can("admin")) return NONE;
  const html = `<span class="archive-tools"><button type="button" id="import-open">${esc(t("imp_title"))}</button>
    <button type="button" id="template-get">${esc(t("imp_template"))}</button></span>`;
  const bind = () => {
    $("#template-get").onclick = async () => {
      try { saveAs(await api(`/api/archive/template?lang=${getLang()}`), `meter-archive-${getLang()}.csv`); } catch (e) { toast(e.message, true); }
    };
    $("#import-open").onclick = async () => {
      const values = await dialog(t("imp_title"), `<p class="muted">${esc(t("imp_hint"))}</p>
        <label>${esc(t("imp_file"))} <input type="file" name="file" id="import-file" accept=".csv,.xlsx"></label>`, {
        okText: t("imp_go"),
        validate: (v) => {
          const f = v.file;
          if (!f || !f.name) return t("imp_pick");
          if (!/\.(csv|xlsx)$/i.test(f.name)) return t("imp_type");
          if (f.size > MAX_MB * 1024 * 1024) return t("imp_size", {n: MAX_MB});
          return null;
        },
      });
      if (!values) return;
      const out = $(outSelector);
      out.innerHTML = `<p class="loading" role="status">${esc(t("imp_running"))}</p>`;
      const body = new FormData();
      body.append("file", values.file, values.file.name);
      let result;
      try {
        result = await api("/api/archive/import", {method: "POST", body});
      } catch (e) {
        showOutcome(out, null, e);
        return;
      }
      await reload();
      const after = $(outSelector);
      if (after) showOutcome(after, result, null);
    };
  };
  return {html, bind};
}

const CLASSES = ["residential", "commercial", "industrial", "agricultural", "other"];
// the fields a clerk corrects (MeterPatch), as [name, kind]; protocol and address of a
// meter in service are kept (a changed meter is a new meter that replaces it)
const FIELDS = [["customer_name", "text"], ["customer_account", "text"], ["customer_phone", "text"], ["customer_address", "text"],
  ["customer_class", "class"], ["area_id", "text"], ["gateway_id", "text"], ["bus", "text"], ["ct_ratio", "number"],
  ["pt_ratio", "number"], ["contracted_kw", "number"], ["removed_on", "date"]];

// what the server said was wrong with the fields ("field: Value error, reason; ..."), each
// field by its label and each reason in the clerk's language where it is a usual one
function why(e) {
  if (typeof e.detail !== "string") return "";
  const zh = getLang() === "zh";
  return e.detail.split("; ").map((part) => {
    const m = /^(\w+): (?:Value error, )?(.*)$/.exec(part);
    return m ? `${t("f_" + m[1])}${zh ? "：" : ": "}${reason(m[2])}` : part;
  }).join(zh ? "；" : "; ");
}

// the meter page's 编辑档案 button and dialog; ``done`` runs after a saved change
export function editMeter(card, done) {
  if (!can("admin")) return NONE;
  const html = `<button type="button" id="edit-meter">${esc(t("edit_archive"))}</button>`;
  const field = (shown, [name, kind]) => {
    const v = shown[name] ?? "";
    const input = kind === "class"
      ? `<select name="${name}" id="edit-${name}">${CLASSES.map((c) => option(c, code("customer_class", c), c === v)).join("")}</select>`
      : `<input name="${name}" id="edit-${name}" type="${kind}" value="${esc(v)}"${kind === "number" ? ' step="any" min="0"' : ""}>`;
    return `<label>${esc(t("f_" + name))} ${input}</label>`;
  };
  // only what differs from the archive goes to the server (an emptied field clears it)
  const changes = (values) => {
    const change = {};
    for (const [name, kind] of FIELDS) {
      const now = (values[name] ?? "").trim();
      if (String(card[name] ?? "") === now) continue;
      change[name] = now === "" ? null : kind === "number" ? Number(now) : now;
    }
    return change;
  };
  const bind = () => {
    $("#edit-meter").onclick = async () => {
      let shown = {...card}, problem = "";
      for (;;) {
        const values = await dialog(`${t("edit_archive")} · ${card.id}`, `<div class="form-grid">${FIELDS.map((f) => field(shown, f)).join("")}</div>
          <p class="muted">${esc(t("edit_hint"))}</p>${problem ? `<p class="error" id="edit-error">${esc(problem)}</p>` : ""}`, {
          okText: t("save"),
          validate: (v) => (["ct_ratio", "pt_ratio"].some((k) => !(Number(v[k]) > 0)) ? t("edit_ratio") : null),
        });
        if (!values) return;
        const change = changes(values);
        if (!Object.keys(change).length) { toast(t("edit_nothing")); return; }
        try {
          await api(`/api/meters/${encodeURIComponent(card.id)}`, {method: "PATCH", body: JSON.stringify(change)});
          toast(t("edit_saved"));
          done();
          return;
        } catch (e) {
          // the dialog opens again with what was typed, and the server's reason
          problem = e.status === 422 ? `${t("err_invalid")}${why(e)}` : e.message;
          shown = {...shown, ...values};
        }
      }
    };
  };
  return {html, bind};
}
