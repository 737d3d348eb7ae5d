// Chart page: chart health, the latest ranking with movements and exits, and a bump chart of its top 20.
"use strict";

const picker = document.getElementById("picker");
const content = document.getElementById("content");
let bumpPlot = null;
let lastDetail = null;

async function init() {
  try {
    const charts = await MC.getJSON("/charts");
    const select = picker.elements.slug;
    for (const chart of charts) {
      select.append(MC.el("option", { value: chart.slug }, `${chart.slug} (${chart.platform}, ${chart.frequency})`));
    }
    if (!charts.length) {
      content.replaceChildren(MC.el("p", { class: "notice" }, "No chart you may read is configured."));
      document.body.dataset.loaded = "true";
      return;
    }
    const wanted = MC.params.get("slug");
    select.value = charts.some((c) => c.slug === wanted) ? wanted : charts[0].slug;
    picker.addEventListener("change", load);
    MC.onThemeChange(() => lastDetail && drawBump(lastDetail));
    await load();
  } catch (error) {
    MC.showError(content, error);
    document.body.dataset.loaded = "error";
  }
}

async function load() {
  const slug = picker.elements.slug.value;
  try {
    const detail = await MC.getJSON(`/charts/${encodeURIComponent(slug)}`, { bump_rankings: picker.elements.bump.value });
    lastDetail = detail;
    render(detail);
    document.body.dataset.loaded = "true";
  } catch (error) {
    MC.showError(content, error);
    document.body.dataset.loaded = "error";
  }
}

function movementCell(entry) {
  if (entry.movement === "new") return MC.el("span", { class: "new" }, "NEW");
  if (entry.movement === "up") return MC.el("span", { class: "up", title: "up" }, `▲ ${entry.change}`);
  if (entry.movement === "down") return MC.el("span", { class: "down", title: "down" }, `▼ ${-entry.change}`);
  return MC.el("span", { class: "muted" }, "=");
}

function render(detail) {
  const { chart, latest, health } = detail;
  document.getElementById("title").textContent = chart.name ? `${chart.name} (${chart.slug})` : chart.slug;
  const healthPanel = MC.el("div", { class: "panel", id: "health" },
    MC.el("strong", {}, `Health, last ${health.window_days} days: `),
    health.coverage_ratio === null ? "no period has ended yet" : `${(health.coverage_ratio * 100).toFixed(1)}% of periods stored`,
    " · ", ...["stored", "incomplete", "waiting", "failed", "missing"].flatMap((s) => [
      MC.el("span", { class: "badge " + s }, `${s} ${health.counts[s]}`), " "]),
    health.latest_ranking_age_hours === null ? "" : ` · newest stored period ended ${health.latest_ranking_age_hours} h ago`,
    " · ", MC.link(MC.pages.coverage({ dag_id: chart.dag_id }), "coverage"),
    " · ", MC.link(MC.airflow.dag(chart.dag_id), chart.dag_id, { top: true }));
  if (!latest) {
    content.replaceChildren(healthPanel, MC.el("p", { class: "notice" }, "No ranking of this chart is stored yet."));
    return;
  }
  const rows = latest.entries.map((entry) => MC.el("tr", {},
    MC.el("td", { class: "num" }, entry.position),
    MC.el("td", {}, movementCell(entry)),
    MC.el("td", { class: "num muted" }, entry.previous_position ?? ""),
    MC.el("td", {}, MC.link(MC.pages.track(entry.track_uuid), entry.track_name)),
    MC.el("td", {}, entry.artists ?? ""),
    MC.el("td", { class: "num" }, MC.formatNumber(entry.metric)),
    MC.el("td", { class: "num" }, entry.time_on_chart === null ? "" : `${entry.time_on_chart} ${entry.time_on_chart_unit ?? ""}`)));
  const ranking = MC.el("table", { id: "ranking" },
    MC.el("thead", {}, MC.el("tr", {}, ...["#", "move", "prev", "track", "artists", "metric", "on chart"].map((h) => MC.el("th", {}, h)))),
    MC.el("tbody", {}, ...rows));
  const exits = latest.exits.length
    ? MC.el("table", { id: "exits" }, MC.el("thead", {}, MC.el("tr", {}, MC.el("th", {}, "track"), MC.el("th", {}, "artists"), MC.el("th", { class: "num" }, "last position"))),
      MC.el("tbody", {}, ...latest.exits.map((x) => MC.el("tr", {}, MC.el("td", {}, MC.link(MC.pages.track(x.track_uuid), x.track_name)),
        MC.el("td", {}, x.artists ?? ""), MC.el("td", { class: "num" }, x.last_position)))))
    : MC.el("p", { class: "muted" }, "No track left the chart in this ranking.");
  const incomplete = latest.expected_entries !== null && latest.entry_count < latest.expected_entries
    ? MC.el("p", { class: "error" }, `Incomplete: ${latest.entry_count} of ${latest.expected_entries} entries stored.`) : null;
  const bumpNode = MC.el("div", { id: "bump", class: "plot", role: "img", "aria-label": "Bump chart of the top 20" });
  content.replaceChildren(healthPanel,
    MC.el("h2", {}, `Latest ranking: ${latest.ranking_date.slice(0, 10)} `,
      latest.run_id ? MC.link(MC.airflow.run(chart.dag_id, latest.run_id), "(DAG run)", { top: true }) : ""),
    incomplete ?? "",
    MC.el("div", { class: "grid" }, MC.el("div", {}, ranking),
      MC.el("div", {}, MC.el("h2", { style: "margin-top:0" }, "Top 20 over time"), bumpNode, MC.el("h2", {}, "Exits"), exits)));
  bumpPlot = null;
  drawBump(detail, bumpNode);
}

function drawBump(detail, node) {
  node = node || document.getElementById("bump");
  if (!node) return;
  if (bumpPlot) bumpPlot.dispose();
  bumpPlot = echarts.init(node, MC.isDark() ? "dark" : null);
  const theme = MC.chartTheme();
  const dates = detail.bump.dates.map((d) => d.slice(0, 10));
  bumpPlot.setOption({
    backgroundColor: theme.backgroundColor,
    tooltip: { trigger: "item", formatter: (p) => `${p.seriesName}<br>${p.name}: #${p.value}` },
    grid: { left: 40, right: 130, top: 10, bottom: 30 },
    xAxis: { type: "category", data: dates, axisLabel: { color: theme.axisColor } },
    yAxis: { type: "value", inverse: true, min: 1, minInterval: 1, max: (v) => Math.max(20, v.max), axisLabel: { color: theme.axisColor },
             splitLine: { lineStyle: { color: theme.gridColor } } },
    series: detail.bump.series.map((s) => ({
      name: s.track_name, type: "line", data: s.positions, connectNulls: false, symbolSize: 5,
      endLabel: { show: true, formatter: "{a}", color: theme.textStyle.color, width: 120, overflow: "truncate" },
    })),
  });
}

window.addEventListener("resize", () => bumpPlot && bumpPlot.resize());
init();
