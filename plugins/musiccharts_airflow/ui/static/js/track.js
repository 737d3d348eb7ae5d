// Track / artist page: metadata, audience series per platform, and (tracks) chart history per chart.
"use strict";

const searchForm = document.getElementById("search");
const results = document.getElementById("results");
const content = document.getElementById("content");
const plots = [];
let lastRender = null;

searchForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const found = await MC.getJSON("/search", { q: searchForm.elements.q.value });
    results.replaceChildren(found.length ? MC.el("ul", { id: "search-results" }, ...found.map((row) => MC.el("li", {},
      MC.link(row.kind === "track" ? MC.pages.track(row.uuid) : MC.pages.artist(row.uuid), row.name),
      ` (${row.kind}${row.detail ? ", " + row.detail : ""})`))) : MC.el("p", { class: "muted" }, "Nothing found."));
  } catch (error) {
    MC.showError(results, error);
  }
});

function metadataTable(metadata) {
  return MC.el("table", { id: "metadata" }, MC.el("tbody", {}, ...Object.entries(metadata)
    .filter(([, value]) => value !== null && value !== undefined && !(Array.isArray(value) && !value.length))
    .map(([key, value]) => MC.el("tr", {}, MC.el("th", {}, key.replaceAll("_", " ")),
      MC.el("td", {}, Array.isArray(value) ? value.join(", ") : String(value))))));
}

function hiddenNote(hidden) {
  return hidden.length ? MC.el("p", { class: "muted", id: "hidden-parts" },
    `Not shown (you may not read the DAGs that write them): ${hidden.join(", ")}.`) : "";
}

function plot(node, option) {
  const instance = echarts.init(node, MC.isDark() ? "dark" : null);
  instance.setOption({ backgroundColor: "transparent", ...option });
  plots.push(instance);
}

function drawAudience(node, audience) {
  const theme = MC.chartTheme();
  plot(node, {
    tooltip: { trigger: "axis" },
    legend: { top: 0, textStyle: { color: theme.textStyle.color } },
    grid: { left: 70, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "time", axisLabel: { color: theme.axisColor } },
    yAxis: { type: "value", scale: true, axisLabel: { color: theme.axisColor }, splitLine: { lineStyle: { color: theme.gridColor } } },
    series: audience.map((s) => ({
      name: `${s.platform}${s.identifier ? " (" + s.identifier + ")" : ""}${s.metric === "value" ? "" : " " + s.metric.replace("_count", "s")}`,
      type: "line", showSymbol: false,
      data: s.dates.map((d, i) => [d, s.values[i]]),
    })),
  });
}

function drawHistory(node, history) {
  const theme = MC.chartTheme();
  const byChart = new Map();
  for (const point of history) {
    if (!byChart.has(point.chart_slug)) byChart.set(point.chart_slug, []);
    byChart.get(point.chart_slug).push([point.ranking_date, point.position]);
  }
  plot(node, {
    tooltip: { trigger: "item", formatter: (p) => `${p.seriesName}<br>${p.value[0].slice(0, 10)}: #${p.value[1]}` },
    legend: { top: 0, textStyle: { color: theme.textStyle.color } },
    grid: { left: 50, right: 20, top: 40, bottom: 30 },
    xAxis: { type: "time", axisLabel: { color: theme.axisColor } },
    yAxis: { type: "value", inverse: true, min: 1, minInterval: 1, axisLabel: { color: theme.axisColor }, splitLine: { lineStyle: { color: theme.gridColor } } },
    series: [...byChart].map(([slug, data]) => ({ name: slug, type: "line", data, symbolSize: 5 })),
  });
}

function render(kind, body) {
  plots.splice(0).forEach((instance) => instance.dispose());
  document.getElementById("title").textContent = `${body.name} (${kind})`;
  const audienceNode = MC.el("div", { class: "plot", id: "audience", role: "img", "aria-label": "Audience per platform" });
  const parts = [hiddenNote(body.hidden)];
  if (kind === "track") {
    parts.push(MC.el("p", {}, "Artists: ", ...body.artists.flatMap((a, i) => [i ? ", " : "", MC.link(MC.pages.artist(a.uuid), a.name)])));
  } else {
    parts.push(MC.el("p", {}, `Tracks (${body.tracks.length}): `,
      ...body.tracks.slice(0, 50).flatMap((t, i) => [i ? ", " : "", MC.link(MC.pages.track(t.uuid), t.name)])));
  }
  const left = [MC.el("h2", {}, "Audience per platform")];
  if (body.audience === null) left.push(MC.el("p", { class: "muted" }, "Hidden."));
  else if (!body.audience.length) left.push(MC.el("p", { class: "muted" }, "No audience stored."));
  else left.push(audienceNode);
  const right = [MC.el("h2", {}, "Metadata"), body.metadata ? metadataTable(body.metadata) : MC.el("p", { class: "muted" }, "Hidden.")];
  parts.push(MC.el("div", { class: "grid" }, MC.el("div", {}, ...left), MC.el("div", {}, ...right)));
  let historyNode = null;
  if (kind === "track") {
    parts.push(MC.el("h2", {}, "Chart history"));
    if (body.chart_history.length) {
      historyNode = MC.el("div", { class: "plot", id: "history", role: "img", "aria-label": "Chart positions" });
      parts.push(historyNode);
      const charts = [...new Set(body.chart_history.map((p) => p.chart_slug))];
      parts.push(MC.el("p", {}, "Charts: ", ...charts.flatMap((slug, i) => [i ? ", " : "", MC.link(MC.pages.chart(slug), slug)])));
    } else {
      parts.push(MC.el("p", { class: "muted" }, "Not on any chart you may read in this window."));
    }
  }
  content.replaceChildren(...parts);
  if (body.audience && body.audience.length) drawAudience(audienceNode, body.audience);
  if (historyNode) drawHistory(historyNode, body.chart_history);
}

async function load() {
  const trackUuid = MC.params.get("uuid");
  const artistUuid = MC.params.get("artist");
  if (!trackUuid && !artistUuid) {
    content.replaceChildren(MC.el("p", { class: "muted" }, "Search for a track or an artist, or open one from a chart page."));
    document.body.dataset.loaded = "true";
    return;
  }
  const kind = trackUuid ? "track" : "artist";
  try {
    const body = await MC.getJSON(kind === "track" ? `/tracks/${trackUuid}` : `/artists/${artistUuid}`);
    lastRender = [kind, body];
    render(kind, body);
    document.body.dataset.loaded = "true";
  } catch (error) {
    MC.showError(content, error);
    document.body.dataset.loaded = "error";
  }
}

MC.onThemeChange(() => lastRender && render(...lastRender));
window.addEventListener("resize", () => plots.forEach((p) => p.resize()));
load();
