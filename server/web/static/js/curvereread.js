// The curve re-read (曲线补抄): ask DL/T 698.45 meters for a past day's 15-minute curve back
// from their own minute freeze (POST /api/reread, items of kind "curve"; the day within the
// meters' curve history). Shown to operators only (the server refuses viewers anyway). Each
// request becomes backfill_curve commands, whose outcome the command history shows
// (#/commands?name=backfill_curve).
import {post} from "./api.js";
import {t} from "./i18n.js";
import {esc} from "./ui.js";

const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);

// the link to the curve re-read commands, newest first (of one meter, if given)
export function outcomeLink(meter = "") {
  const p = new URLSearchParams({name: "backfill_curve"});
  if (meter) p.set("meter_id", meter);
  return `<a class="curve-reread-outcome" href="#/commands?${p.toString()}">${esc(t("curve_reread_outcome"))} →</a>`;
}

// re-read the curve of ``date`` for ``meters``; resolves to the words of what was requested
export async function rereadCurves(meters, date) {
  const r = await post("/api/reread", {items: meters.map((m) => ({meter: m, date, kind: "curve"}))});
  return t("curve_reread_done", {r: sum(r.curves_requested), p: sum(r.curves_already_pending)});
}

// today in the utility's time zone (YYYY-MM-DD)
export const todayIn = (tz) => new Intl.DateTimeFormat("sv-SE", {timeZone: tz}).format(new Date());
