// Fraud and risk page: the flag list with filters, evidence, and links to the entity and the flagging run.
"use strict";

const form = document.getElementById("filters");
const table = document.getElementById("table");
const pager = document.getElementById("pager");
const hiddenNote = document.getElementById("hidden-note");
const scoresNode = document.getElementById("scores");
const PAGE = 100;
let plot = null;
let lastBody = null;

const FILTERS = ["source", "detector", "platform", "min_score", "from", "to"];

function query(offset) {
  const values = { limit: PAGE, offset: offset || 0 };
  for (const name of FILTERS) {
    const field = form.elements[name];
    // Before the first answer the selects hold no options yet: the page's own URL gives their value.
    values[name] = field.tagName === "SELECT" && field.options.length <= 1 ? (MC.params.get(name) || "") : field.value;
  }
  return values;
}

function fillSelect(select, values) {
  const chosen = select.value || MC.params.get(select.name) || "";
  const first = select.options[0];
  select.replaceChildren(first, ...[...values].sort().map((value) => MC.el("option", { value }, value)));
  select.value = values.has(chosen) ? chosen : "";
}

function entityCell(flag) {
  const label = flag.entity_name || `${flag.entity_type} ${flag.entity_id}`;
  if (flag.entity_uuid && flag.entity_type === "track") return MC.link(MC.pages.track(flag.entity_uuid), label);
  if (flag.entity_uuid && flag.entity_type === "artist") return MC.link(MC.pages.artist(flag.entity_uuid), label);
  if (flag.entity_type === "song") return MC.link(MC.pages.analyses({ song: flag.entity_id }), label);
  return label;
}

function evidenceCell(evidence) {
  const entries = Array.isArray(evidence) ? evidence.map((value, index) => [index, value]) : Object.entries(evidence);
  return MC.el("dl", { class: "evidence" }, ...entries.flatMap(([key, value]) => [
    MC.el("dt", {}, String(key).replaceAll("_", " ")),
    MC.el("dd", {}, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)),
  ]));
}

function runCell(flag) {
  const links = [MC.link(MC.airflow.dag(flag.dag_id), flag.dag_id, { top: true })];
  if (flag.run_id) {
    links.push(" / ", MC.link(MC.airflow.run(flag.dag_id, flag.run_id), "run", { top: true }),
      " / ", MC.link(MC.airflow.task(flag.dag_id, flag.run_id, flag.task_id), `task ${flag.task_id}`, { top: true }));
  }
  return links;
}

function drawScores(flags) {
  if (plot) plot.dispose();
  plot = echarts.init(scoresNode, MC.isDark() ? "dark" : null);
  const theme = MC.chartTheme();
  plot.setOption({
    backgroundColor: "transparent",
    animation: false,  // drawn at once: screenshots and quick filter changes show the final plot
    tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>${p.value[1]}: score ${p.value[0]}` },
    grid: { left: 120, right: 20, top: 10, bottom: 30 },
    xAxis: { type: "value", name: "score", axisLabel: { color: theme.axisColor }, splitLine: { lineStyle: { color: theme.gridColor } } },
    yAxis: { type: "category", data: [...new Set(flags.map((f) => f.detector))].sort(), axisLabel: { color: theme.axisColor } },
    series: [{ type: "scatter", symbolSize: 12, itemStyle: { color: MC.cssVar("--failed") },
      data: flags.map((f) => ({ value: [f.score, f.detector], name: f.entity_name || String(f.entity_id) })) }],
  });
}

function render(body, offset) {
  const facets = body.facets;
  fillSelect(form.elements.source, new Set(facets.map((f) => f.source)));
  fillSelect(form.elements.detector, new Set(facets.map((f) => f.detector)));
  fillSelect(form.elements.platform, new Set(facets.map((f) => f.platform)));
  hiddenNote.replaceChildren(body.hidden_sources.length ? MC.el("p", { class: "muted", id: "hidden-sources" },
    `Not shown (you may not read the DAGs that compute them): ${body.hidden_sources.join(", ")}.`) : "");
  document.getElementById("table-title").textContent = `Flags (${MC.formatNumber(body.total)})`;
  if (!body.flags.length) {
    table.replaceChildren(MC.el("p", { class: "muted" }, "No flag matches."));
    scoresNode.hidden = true;
  } else {
    scoresNode.hidden = false;
    table.replaceChildren(MC.el("table", { id: "flags" },
      MC.el("thead", {}, MC.el("tr", {}, ...["Score", "Detector", "Entity", "Platform", "Window", "Evidence", "Source", "Flagged by", "Computed"]
        .map((h) => MC.el("th", { class: h === "Score" ? "num" : null }, h)))),
      MC.el("tbody", {}, ...body.flags.map((flag) => MC.el("tr", { "data-source": flag.source },
        MC.el("td", { class: "num" }, flag.score.toFixed(1)),
        MC.el("td", {}, flag.detector, MC.el("div", { class: "muted" }, flag.detector_version)),
        MC.el("td", {}, entityCell(flag), MC.el("div", { class: "muted" }, flag.entity_type)),
        MC.el("td", {}, flag.platform, flag.identifier ? MC.el("div", { class: "muted" }, flag.identifier) : null),
        MC.el("td", {}, `${flag.window_start} → ${flag.window_end}`),
        MC.el("td", {}, evidenceCell(flag.evidence)),
        MC.el("td", {}, flag.source),
        MC.el("td", {}, ...runCell(flag)),
        MC.el("td", {}, flag.computed_at.slice(0, 16).replace("T", " ")))))));
    drawScores(body.flags);
  }
  pager.replaceChildren();
  if (offset > 0) pager.append(MC.el("button", { type: "button", onclick: () => load(Math.max(0, offset - PAGE)) }, "Previous"));
  if (offset + body.flags.length < body.total) pager.append(MC.el("button", { type: "button", onclick: () => load(offset + PAGE) }, "Next"));
}

async function load(offset) {
  try {
    const body = await MC.getJSON("/fraud-flags", query(offset));
    lastBody = [body, offset || 0];
    render(body, offset || 0);
    document.body.dataset.loaded = "true";
  } catch (error) {
    MC.showError(table, error);
    document.body.dataset.loaded = "error";
  }
}

for (const name of FILTERS) {
  if (MC.params.get(name)) form.elements[name].value = MC.params.get(name);
}
form.addEventListener("submit", (event) => { event.preventDefault(); load(0); });
MC.onThemeChange(() => lastBody && render(...lastBody));
window.addEventListener("resize", () => plot && plot.resize());
load(0);
