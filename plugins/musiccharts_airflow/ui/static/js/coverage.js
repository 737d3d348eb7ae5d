// Coverage page: a heatmap of charts x days (a weekly or monthly period fills its days), or, as the tab of
// one chart DAG, that chart's periods with the backfill / forced-rerun actions.
"use strict";

const STATUSES = ["stored", "incomplete", "waiting", "failed", "missing"];
const STATUS_TEXT = {
  stored: "stored", incomplete: "incomplete (bad)", waiting: "waiting for publication", failed: "failed",
  missing: "missing",
};
const CHART_DAG_PREFIX = "sync_chart_rankings__";
const dagId = MC.params.get("dag_id");
const singleChart = dagId && dagId.startsWith(CHART_DAG_PREFIX) ? dagId.slice(CHART_DAG_PREFIX.length) : null;
const form = document.getElementById("filters");
const heatmapNode = document.getElementById("heatmap");
const selection = document.getElementById("selection");
const table = document.getElementById("table");
let heatmap = null;
let lastData = null;

function statusColor(status) { return MC.cssVar("--" + status); }

function buildFilters() {
  const container = document.getElementById("status-filters");
  for (const status of STATUSES) {
    const box = MC.el("input", { type: "checkbox", name: "status", value: status });
    box.checked = (MC.params.getAll("status").length === 0) || MC.params.getAll("status").includes(status);
    container.append(MC.el("label", {}, box, STATUS_TEXT[status]));
  }
  form.elements.from.value = MC.params.get("from") || "";
  form.elements.to.value = MC.params.get("to") || "";
  document.getElementById("legend").replaceChildren(
    ...STATUSES.map((s) => MC.el("span", {}, MC.el("span", { class: "badge " + s }, s), " ", STATUS_TEXT[s])));
  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
}

function query() {
  const statuses = [...form.querySelectorAll("input[name=status]:checked")].map((box) => box.value);
  const chart = singleChart || form.elements.chart.value;
  return {
    from: form.elements.from.value, to: form.elements.to.value,
    chart: chart ? [chart] : [],
    status: statuses.length === STATUSES.length ? [] : statuses,
  };
}

function apiQuery() {
  // The heatmap filters statuses itself (it needs every period to place the others); the DAG tab asks.
  const q = query();
  return singleChart ? q : { ...q, status: [] };
}

async function load() {
  try {
    const data = await MC.getJSON("/coverage", apiQuery());
    lastData = data;
    if (!form.elements.from.value) form.elements.from.value = data.first_day;
    if (!form.elements.to.value) form.elements.to.value = data.last_day;
    fillChartSelect(data);
    if (singleChart) renderSingle(data); else renderAll(data);
    document.body.dataset.loaded = "true";
  } catch (error) {
    MC.showError(table, error);
    document.body.dataset.loaded = "error";
  }
}

function fillChartSelect(data) {
  const select = form.elements.chart;
  if (select.options.length > 1) return;
  for (const chart of data.charts) select.append(MC.el("option", { value: chart.slug }, chart.slug));
  if (MC.params.get("chart")) select.value = MC.params.get("chart");
}

function dayRange(first, last) {
  const days = [];
  for (let d = new Date(first + "T00:00:00Z"); d <= new Date(last + "T00:00:00Z"); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

function renderAll(data) {
  heatmapNode.hidden = false;
  const days = dayRange(data.first_day, data.last_day);
  const dayIndex = new Map(days.map((day, i) => [day, i]));
  const charts = data.charts.map((chart) => chart.slug).reverse();
  const points = [];
  const shown = new Set(query().status.length ? query().status : STATUSES);
  data.charts.forEach((chart) => {
    const y = charts.indexOf(chart.slug);
    for (const cell of expandPeriods(chart)) {
      if (!shown.has(cell.status)) continue;
      for (const day of dayRange(cell.start, addDays(cell.end, -1))) {
        if (dayIndex.has(day)) points.push([dayIndex.get(day), y, STATUSES.indexOf(cell.status), chart.slug, cell]);
      }
    }
  });
  heatmapNode.style.height = Math.max(240, 60 + 22 * charts.length) + "px";
  if (!heatmap) {
    heatmap = echarts.init(heatmapNode, null, { renderer: "canvas" });
    heatmap.on("click", (event) => select(event.data[3], event.data[4]));
    MC.onThemeChange(() => renderAll(lastData));
    window.addEventListener("resize", () => heatmap.resize());
  }
  heatmap.resize();
  const theme = MC.chartTheme();
  heatmap.setOption({
    backgroundColor: theme.backgroundColor,
    textStyle: theme.textStyle,
    tooltip: {
      formatter: (p) => `${p.data[3]}<br>${p.data[4].start} .. ${addDays(p.data[4].end, -1)}<br>` +
        `${STATUS_TEXT[p.data[4].status]}${p.data[4].entries !== null ? ` (${p.data[4].entries}` +
        `${p.data[4].expected ? "/" + p.data[4].expected : ""} entries)` : ""}`,
    },
    grid: { left: 150, right: 20, top: 10, bottom: 50 },
    xAxis: { type: "category", data: days, axisLabel: { color: theme.axisColor }, splitArea: { show: false } },
    yAxis: { type: "category", data: charts, axisLabel: { color: theme.axisColor } },
    visualMap: {
      type: "piecewise", show: false, dimension: 2,
      pieces: STATUSES.map((status, i) => ({ value: i, color: statusColor(status), label: status })),
    },
    series: [{ type: "heatmap", data: points, progressive: 0, emphasis: { itemStyle: { borderColor: theme.textStyle.color, borderWidth: 1 } } }],
  }, true);
  renderSummary(data);
}

const LETTER_STATUS = { s: "stored", i: "incomplete", w: "waiting", f: "failed", m: "missing" };

function nextPeriodStart(start, frequency) {
  if (frequency === "daily") return addDays(start, 1);
  if (frequency === "weekly") return addDays(start, 7);
  const d = new Date(start + "T00:00:00Z");
  d.setUTCMonth(d.getUTCMonth() + 1);
  return d.toISOString().slice(0, 10);
}

// Every period of a chart: the status letters cover all of them, the detailed cells the ones not stored.
function expandPeriods(chart) {
  const detailed = new Map(chart.periods.map((cell) => [cell.start, cell]));
  const cells = [];
  let start = chart.first_period_start;
  for (const letter of chart.statuses) {
    const end = nextPeriodStart(start, chart.frequency);
    cells.push(detailed.get(start) || { start, end, status: LETTER_STATUS[letter], run_id: null, entries: null });
    start = end;
  }
  return cells;
}

function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function renderSummary(data) {
  const head = MC.el("tr", {}, MC.el("th", {}, "chart"), MC.el("th", {}, "frequency"),
    ...STATUSES.map((s) => MC.el("th", { class: "num" }, s)), MC.el("th", {}, "DAG"));
  const rows = data.charts.map((chart) => MC.el("tr", {},
    MC.el("td", {}, MC.link(MC.pages.chart(chart.slug), chart.slug)),
    MC.el("td", {}, chart.frequency + (chart.enabled ? "" : " (disabled)")),
    ...STATUSES.map((s) => MC.el("td", { class: "num" }, chart.counts[s])),
    MC.el("td", {}, MC.link(MC.airflow.dag(chart.dag_id), chart.dag_id, { top: true }))));
  const hidden = data.hidden_charts ? MC.el("p", { class: "muted" },
    `${data.hidden_charts} chart(s) not shown: you may not read their DAGs.`) : null;
  table.replaceChildren(MC.el("table", { id: "summary" }, MC.el("thead", {}, head), MC.el("tbody", {}, ...rows)));
  if (hidden) table.append(hidden);
}

function renderSingle(data) {
  heatmapNode.hidden = true;
  document.getElementById("title").textContent = `Coverage of ${singleChart}`;
  document.getElementById("table-title").textContent = "Periods";
  form.elements.chart.closest("label").hidden = true;
  const [chart] = data.charts;
  if (!chart) {
    table.replaceChildren(MC.el("p", { class: "notice" }, "You may not read this chart's DAG."));
    return;
  }
  const actionable = chart.periods.filter((cell) => ["missing", "failed"].includes(cell.status));
  const fillAll = MC.el("button", { class: "action", type: "button", id: "backfill-all",
    onclick: () => backfill(chart, actionable[0].start, actionable[actionable.length - 1].start, false) },
    `Backfill all ${actionable.length} missing or failed period(s)`);
  fillAll.disabled = actionable.length === 0 || !chart.enabled;
  const head = MC.el("tr", {}, ...["period", "status", "entries", "DAG run", "action"].map((h) => MC.el("th", {}, h)));
  const rows = [...chart.periods].reverse().map((cell) => MC.el("tr", { "data-start": cell.start, "data-status": cell.status },
    MC.el("td", {}, cell.start === addDays(cell.end, -1) ? cell.start : `${cell.start} .. ${addDays(cell.end, -1)}`),
    MC.el("td", {}, MC.el("span", { class: "badge " + cell.status }, STATUS_TEXT[cell.status])),
    MC.el("td", { class: "num" }, cell.entries === null ? "" : `${cell.entries}${cell.expected ? " / " + cell.expected : ""}`),
    MC.el("td", {}, cell.run_id ? MC.link(MC.airflow.run(chart.dag_id, cell.run_id), cell.run_id, { top: true }) : ""),
    MC.el("td", {}, actionButton(chart, cell))));
  table.replaceChildren(
    MC.el("p", {}, fillAll, " ", MC.link(MC.airflow.backfills(chart.dag_id), "backfills of this DAG", { top: true })),
    MC.el("table", { id: "periods" }, MC.el("thead", {}, head), MC.el("tbody", {}, ...rows)));
}

function actionButton(chart, cell) {
  if (!chart.enabled || cell.status === "waiting") return "";
  const force = cell.status === "stored" || cell.status === "incomplete";
  return MC.el("button", { class: "action", type: "button", "data-action": force ? "rerun" : "backfill",
    onclick: () => backfill(chart, cell.start, cell.start, force) }, force ? "Force rerun" : "Backfill");
}

async function select(slug, cell) {
  const chart = lastData.charts.find((c) => c.slug === slug);
  if (!cell.run_id) {
    // The all-charts view carries only the runs that decide a status; ask for this period's run.
    try {
      const one = await MC.getJSON("/coverage", { chart: [slug], from: cell.start, to: cell.start });
      cell = (one.charts[0] && one.charts[0].periods[0]) || cell;
    } catch (error) { /* the panel still shows what is known */ }
  }
  selection.hidden = false;
  selection.replaceChildren(
    MC.el("strong", {}, `${slug}: ${cell.start}`), " ",
    MC.el("span", { class: "badge " + cell.status }, STATUS_TEXT[cell.status]), " ",
    cell.run_id ? MC.link(MC.airflow.run(chart.dag_id, cell.run_id), "DAG run " + cell.run_id, { top: true }) : "no DAG run",
    " ", MC.link(MC.pages.coverage({ dag_id: chart.dag_id }), "all periods of this chart"), " ",
    actionButton(chart, cell));
}

async function backfill(chart, firstStart, lastStart, force) {
  const what = firstStart === lastStart ? `the period starting ${firstStart}` : `periods ${firstStart} .. ${lastStart}`;
  const message = force
    ? `Force a rerun of ${chart.slug} for ${what}?\n\nThe ranking is fetched again from Soundcharts (API quota is used) and replaces the stored one.`
    : `Backfill ${chart.slug} for ${what}?\n\nAirflow creates a run for every period of the range that has no ` +
      "successful or running run; periods already stored are skipped by the DAG without any API call.";
  if (!window.confirm(message)) return;
  try {
    const created = await MC.postAirflow("/backfills", {
      dag_id: chart.dag_id,
      from_date: firstStart + "T00:00:00Z",
      to_date: lastStart + "T00:00:00Z",
      reprocess_behavior: force ? "completed" : "failed",
      dag_run_conf: force ? { force: true } : {},
      max_active_runs: 2,
    });
    showResult(`Backfill ${created.id} created for ${chart.dag_id}.`, chart);
    await load();
  } catch (error) {
    showResult(`The backfill was not created: ${error.message}`, chart, true);
  }
}

function showResult(text, chart, failed) {
  selection.hidden = false;
  selection.replaceChildren(MC.el("p", { class: failed ? "error" : "notice", id: "action-result", role: "status" }, text, " ",
    MC.link(MC.airflow.backfills(chart.dag_id), "see backfills", { top: true })));
}

if (dagId && !singleChart) {
  document.getElementById("title").textContent = "Chart coverage";
  table.replaceChildren(MC.el("p", { class: "notice", id: "not-a-chart" },
    `${dagId} is not a chart sync DAG: coverage is shown on the sync_chart_rankings__<chart> DAGs. `,
    MC.link(MC.pages.coverage(), "Coverage of all charts")));
  form.hidden = true;
  heatmapNode.hidden = true;
  document.body.dataset.loaded = "true";
} else {
  buildFilters();
  if (singleChart) selection.hidden = true;
  load();
}
