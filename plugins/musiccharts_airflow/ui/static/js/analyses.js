// Song analyses page: status per song, report, matches; failed songs with their reason and a Retry action.
"use strict";

const form = document.getElementById("filters");
const table = document.getElementById("table");
const detail = document.getElementById("detail");
const action = document.getElementById("action");
const counts = document.getElementById("counts");
const pager = document.getElementById("pager");
const PAGE = Number(MC.params.get("limit")) || 100;  // ?limit= links a smaller page
let retryDagId = "retry_failed_analyses";

function badge(value) {
  return value ? MC.el("span", { class: `badge ${value}` }, value) : "";
}

function runLinks(run) {
  if (!run) return [MC.el("span", { class: "muted" }, "no run yet")];
  const task = run.map_index === null ? MC.airflow.task(run.dag_id, run.run_id, run.task_id, null)
    : MC.airflow.task(run.dag_id, run.run_id, run.task_id, run.map_index);
  return [MC.link(MC.airflow.run(run.dag_id, run.run_id), `${run.dag_id} run`, { top: true }), " ", badge(run.state), MC.el("br"),
    MC.link(task, run.map_index === null ? `${run.task_id} (mapped)` : `${run.task_id} [${run.map_index}]`, { top: true })];
}

async function retry(song) {
  const message = `Retry the analysis of "${song.title}" (song ${song.id})?\n\nThis triggers a run of ${retryDagId} for this song.`;
  if (!window.confirm(message)) return;
  try {
    const run = await MC.postAirflow(`/dags/${encodeURIComponent(retryDagId)}/dagRuns`, {
      logical_date: null,
      conf: { song_ids: [song.id] },
      note: `Retry of song ${song.id} from the Song analyses page`,
    });
    showResult([`Run ${run.dag_run_id} of ${retryDagId} created for "${song.title}". `,
      MC.link(MC.airflow.run(retryDagId, run.dag_run_id), "open the run", { top: true })]);
  } catch (error) {
    showResult([`The retry was not created: ${error.message}`], true);
  }
}

function showResult(parts, failed) {
  action.hidden = false;
  action.replaceChildren(MC.el("p", { class: failed ? "error" : "notice", id: "action-result", role: "status" }, ...parts));
}

function renderCounts(body) {
  counts.replaceChildren(...Object.entries(body.counts).map(([state, count]) =>
    MC.el("span", { "data-status": state }, badge(state), ` ${MC.formatNumber(count)}`)));
}

function renderTable(body) {
  if (!body.songs.length) {
    table.replaceChildren(MC.el("p", { class: "muted" }, "No song matches."));
    return;
  }
  table.replaceChildren(MC.el("table", { id: "songs" },
    MC.el("thead", {}, MC.el("tr", {}, ...["Song", "Status", "Reason / report", "Matches", "Run", ""].map((h) => MC.el("th", {}, h)))),
    MC.el("tbody", {}, ...body.songs.map((song) => MC.el("tr", { "data-status": song.status, "data-song": song.id },
      MC.el("td", {}, MC.link(MC.pages.analyses({ song: song.id }), song.title), MC.el("div", { class: "muted" }, `${song.artist} · #${song.id}`)),
      MC.el("td", {}, badge(song.status)),
      MC.el("td", {}, ...(song.status === "failed" ? [MC.el("span", { class: "error" }, song.failure_reason || "")]
        : song.report ? [badge(song.report.risk_level), ` ${song.report.match_type}: ${song.report.summary}`] : [])),
      MC.el("td", { class: "num" }, MC.formatNumber(song.matches)),
      MC.el("td", {}, ...runLinks(song.run)),
      MC.el("td", {}, song.status === "failed" ? MC.el("button", { type: "button", class: "action", "data-action": "retry",
        onclick: () => retry(song) }, "Retry") : ""))))));
}

function renderDetail(song) {
  const parts = [MC.el("h2", {}, `${song.title} by ${song.artist}`),
    MC.el("p", {}, badge(song.status), ` analysis ${song.analysis_status || "not started"}`,
      song.file_id ? ` · ACRCloud file ${song.file_id}` : "", ` · ${song.audio_uri}`)];
  if (song.failure_reason) parts.push(MC.el("p", { class: "error" }, song.failure_reason));
  if (song.report) {
    const report = song.report;
    parts.push(MC.el("div", { class: "panel", id: "report" },
      MC.el("p", {}, badge(report.risk_level), ` ${report.match_type}, confidence ${report.confidence}: ${report.summary}`),
      report.critical_reasons.length ? MC.el("p", {}, "Critical: ", report.critical_reasons.join("; ")) : "",
      report.recommendations.length ? MC.el("ul", {}, ...report.recommendations.map((r) => MC.el("li", {}, r))) : ""));
  }
  if (song.ai_detection) {
    parts.push(MC.el("p", {}, `AI detection: ${song.ai_detection.prediction}`,
      song.ai_detection.ai_probability === null ? "" : ` (${song.ai_detection.ai_probability}%)`,
      song.ai_detection.likely_source ? `, likely ${song.ai_detection.likely_source}` : ""));
  }
  parts.push(MC.el("h2", {}, `Matches (${song.matches})`));
  parts.push(song.matches_list.length ? MC.el("table", { id: "matches" },
    MC.el("thead", {}, MC.el("tr", {}, ...["Type", "Title", "Artists", "ISRC", "Score", "Similarity", "Offset s"].map((h) => MC.el("th", {}, h)))),
    MC.el("tbody", {}, ...song.matches_list.map((m) => MC.el("tr", {},
      MC.el("td", {}, m.match_type),
      MC.el("td", {}, m.track_uuid ? MC.link(MC.pages.track(m.track_uuid), m.title || m.match_key) : (m.title || m.match_key)),
      MC.el("td", {}, m.artists.join(", ")),
      MC.el("td", {}, m.isrc || ""),
      MC.el("td", { class: "num" }, m.outer_score ?? ""),
      MC.el("td", { class: "num" }, m.similarity ?? ""),
      MC.el("td", { class: "num" }, m.offset_seconds)))))
    : MC.el("p", { class: "muted" }, "No match."));
  parts.push(MC.el("p", {}, ...runLinks(song.run)));
  detail.replaceChildren(...parts);
}

function renderPager(body, offset) {
  pager.replaceChildren();
  if (!body.total) return;
  pager.append(MC.el("span", { class: "muted", id: "page-range" },
    `${MC.formatNumber(offset + 1)}–${MC.formatNumber(offset + body.songs.length)} of ${MC.formatNumber(body.total)}`));
  if (offset > 0) pager.append(MC.el("button", { type: "button", onclick: () => load(Math.max(0, offset - PAGE)) }, "Previous"));
  if (offset + body.songs.length < body.total) pager.append(MC.el("button", { type: "button", onclick: () => load(offset + PAGE) }, "Next"));
}

async function load(offset = 0) {
  try {
    const body = await MC.getJSON("/analyses", {
      status: form.elements.status.value, risk_level: form.elements.risk_level.value, q: form.elements.q.value,
      limit: PAGE, offset,
    });
    retryDagId = body.retry_dag_id;
    renderCounts(body);
    renderTable(body);
    renderPager(body, offset);
    const songId = MC.params.get("song");
    if (songId) renderDetail(await MC.getJSON(`/analyses/${encodeURIComponent(songId)}`));
    document.body.dataset.loaded = "true";
  } catch (error) {
    MC.showError(table, error);
    document.body.dataset.loaded = "error";
  }
}

for (const name of ["status", "risk_level", "q"]) {
  if (MC.params.get(name)) form.elements[name].value = MC.params.get(name);
}
form.addEventListener("submit", (event) => { event.preventDefault(); load(0); });
load();
