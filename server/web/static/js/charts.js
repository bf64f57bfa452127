// Charts with the vendored Apache ECharts (server/web/vendor/echarts, loaded by index.html
// as window.echarts). Canvas rendering, its built-in zh/en locale; tooltips are built here
// as plain text (no inline style attributes: the CSP forbids them). Every chart of a page
// is disposed when the page changes.
import {echartsLocale, pct, t} from "./i18n.js";
import {esc} from "./ui.js";

const live = new Set();
export function disposeAll() { live.forEach((c) => c.dispose()); live.clear(); }
window.addEventListener("resize", () => live.forEach((c) => c.resize()));

const BLUE = "#1b6dc1", RED = "#c62828", GREY = "#8a96a3", GREEN = "#2e7d32";
const SERIES = [BLUE, "#ef6c00", "#2e7d32", "#6a1b9a"];

function make(el, option) {
  const chart = window.echarts.init(el, null, {renderer: "canvas", locale: echartsLocale()});
  chart.setOption(Object.assign({animation: false, textStyle: {fontFamily: "system-ui, 'Noto Sans CJK SC', sans-serif"}}, option));
  live.add(chart);
  el.dataset.chart = "ready";
  return chart;
}
const tooltip = (fmt) => ({trigger: "axis", confine: true, formatter: (ps) => {
  const list = Array.isArray(ps) ? ps : [ps];
  return esc(list[0]?.axisValueLabel ?? list[0]?.name ?? "") + "<br>" +
    list.filter((p) => p.value !== null && p.value !== undefined).map((p) => `${esc(p.seriesName)}: ${esc(fmt(Array.isArray(p.value) ? p.value[1] : p.value))}`).join("<br>");
}});

// a y axis that shows the rates' differences: from a little under the lowest of the rates
// and the threshold, to 100 %
export function rateAxisMin(rates, threshold) {
  const lo = Math.min(threshold ?? 1, ...rates.filter((r) => r !== null && r !== undefined));
  return Math.max(0, Math.floor((lo - 0.02) * 20) / 20);
}

// success rate per day (or per month: ``label`` names a point) with the threshold line;
// points below it drawn red
export function trendChart(el, days, threshold, {previous = null, label = (d) => String(d.date).slice(5)} = {}) {
  const rateOf = (d) => (d.due ? d.rate : null);  // a day with nothing due has no rate
  const rates = days.map(rateOf);
  const min = rateAxisMin(rates.concat(previous ? previous.map(rateOf) : []), threshold);
  const series = [{
    name: t("rate"), type: "line", data: rates, symbolSize: 6, lineStyle: {color: BLUE, width: 2},
    itemStyle: {color: (p) => (p.value !== null && p.value < threshold ? RED : BLUE)},
    markLine: {silent: true, symbol: "none", lineStyle: {color: RED, type: "dashed"},
      label: {formatter: `${t("threshold")} ${pct(threshold)}`, position: "insideEndTop", color: RED},
      data: [{yAxis: threshold}]},
  }];
  if (previous) series.push({name: t("prev_period"), type: "line", data: previous.map(rateOf), symbol: "none", lineStyle: {color: GREY, type: "dotted"}});
  return make(el, {
    grid: {left: 56, right: 24, top: 28, bottom: 40},
    legend: previous ? {top: 0} : undefined,
    tooltip: tooltip((v) => pct(v)),
    xAxis: {type: "category", data: days.map(label), axisLabel: {hideOverlap: true}},
    yAxis: {type: "value", min, max: 1, splitLine: {show: true, lineStyle: {color: "#e3e8ee"}},
      axisLabel: {formatter: (v) => `${Math.round(v * 1000) / 10} %`}},
    series,
  });
}

// rates of groups as bars, those under the threshold red, with the threshold line
export function groupBars(el, groups, threshold, label) {
  const min = rateAxisMin(groups.map((g) => g.rate), threshold);
  return make(el, {
    grid: {left: 56, right: 24, top: 24, bottom: 56},
    tooltip: Object.assign(tooltip((v) => pct(v)), {trigger: "axis"}),
    xAxis: {type: "category", data: groups.map((g) => label(g)), axisLabel: {interval: 0, rotate: groups.length > 6 ? 30 : 0}},
    yAxis: {type: "value", min, max: 1, splitLine: {lineStyle: {color: "#e3e8ee"}}, axisLabel: {formatter: (v) => `${Math.round(v * 1000) / 10} %`}},
    series: [{name: t("rate"), type: "bar", barMaxWidth: 36, data: groups.map((g) => ({value: g.rate, itemStyle: {color: g.rate !== null && g.rate < threshold ? RED : BLUE}})),
      markLine: {silent: true, symbol: "none", lineStyle: {color: RED, type: "dashed"}, label: {formatter: `${t("threshold")} ${pct(threshold)}`, position: "insideEndTop", color: RED}, data: [{yAxis: threshold}]}}],
  });
}

const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(Math.round(m % 60)).padStart(2, "0")}`;
// curves of one day on a 00:00–24:00 axis: series [{name, points: [[minuteOfDay, value]]}]
export function dayCurves(el, series, unit) {
  return make(el, {
    grid: {left: 56, right: 24, top: 32, bottom: 56},
    legend: {top: 0},
    tooltip: {trigger: "axis", confine: true, formatter: (ps) => esc(hhmm(ps[0].value[0])) + "<br>" +
      ps.map((p) => `${esc(p.seriesName)}: ${esc(Number(p.value[1]).toFixed(2))} ${esc(unit)}`).join("<br>")},
    dataZoom: [{type: "inside"}, {type: "slider", height: 16, bottom: 6}],
    xAxis: {type: "value", min: 0, max: 1440, interval: 180, axisLabel: {formatter: hhmm}, splitLine: {lineStyle: {color: "#eef1f4"}}},
    yAxis: {type: "value", name: unit, scale: true, splitLine: {lineStyle: {color: "#e3e8ee"}}},
    series: series.map((s, i) => ({name: s.name, type: "line", showSymbol: false, data: s.points, lineStyle: {width: 1.6, color: SERIES[i % 4]}, itemStyle: {color: SERIES[i % 4]}})),
  });
}

// a series of days with bars (e.g. consumption) and an optional line (e.g. register), a
// marked stretch of days (e.g. the anomaly's), and optional limit lines
export function daysChart(el, {days, bars, barName, line, lineName, unit, marked = null, limits = [], fmt = (v) => Number(v).toFixed(2)}) {
  const series = [];
  if (bars) series.push({name: barName, type: "bar", data: bars, barMaxWidth: 18, itemStyle: {color: BLUE},
    markArea: marked ? {silent: true, itemStyle: {color: "rgba(198,40,40,0.10)"}, data: [[{xAxis: marked[0]}, {xAxis: marked[1]}]]} : undefined,
    markLine: limits.length ? {silent: true, symbol: "none", data: limits.map((l) => ({yAxis: l.value, lineStyle: {color: l.color || RED, type: "dashed"}, label: {formatter: l.label, position: "insideEndTop", color: l.color || RED}}))} : undefined});
  if (line) series.push({name: lineName, type: "line", yAxisIndex: bars ? 1 : 0, data: line, symbolSize: 5, itemStyle: {color: "#ef6c00"},
    markArea: !bars && marked ? {silent: true, itemStyle: {color: "rgba(198,40,40,0.10)"}, data: [[{xAxis: marked[0]}, {xAxis: marked[1]}]]} : undefined,
    markLine: !bars && limits.length ? {silent: true, symbol: "none", data: limits.map((l) => ({yAxis: l.value, lineStyle: {color: l.color || RED, type: "dashed"}, label: {formatter: l.label, position: "insideEndTop", color: l.color || RED}}))} : undefined});
  const yAxis = [{type: "value", name: unit, scale: !bars, minInterval: unit ? 0 : 1, splitLine: {lineStyle: {color: "#e3e8ee"}}, axisLabel: {formatter: (v) => fmt(v)}}];
  if (bars && line) yAxis.push({type: "value", scale: true, splitLine: {show: false}});
  return make(el, {
    grid: {left: 64, right: bars && line ? 64 : 24, top: 32, bottom: 40}, legend: {top: 0},
    tooltip: tooltip(fmt), xAxis: {type: "category", data: days.map((d) => String(d).slice(5))}, yAxis, series,
  });
}

// counts per category as horizontal bars
export function countBars(el, items) {
  return make(el, {
    grid: {left: 140, right: 24, top: 8, bottom: 24}, tooltip: tooltip((v) => String(v)),
    xAxis: {type: "value", minInterval: 1, splitLine: {lineStyle: {color: "#e3e8ee"}}},
    yAxis: {type: "category", data: items.map((i) => i.name), inverse: true},
    series: [{name: t("meters"), type: "bar", data: items.map((i) => i.value), itemStyle: {color: BLUE}, barMaxWidth: 20}],
  });
}
export const COLORS = {BLUE, RED, GREY, GREEN};
