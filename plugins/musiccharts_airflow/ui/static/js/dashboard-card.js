// MusicCharts card on the Airflow dashboard: today's sync status, open alerts, the latest backup.
//
// A plain ES module, no build step. Airflow's UI imports it (react_apps, destination "dashboard"), then
// renders the function left in globalThis.AirflowPlugin with its own React, which it exposes as
// globalThis.React: the card uses that React (a second copy would break hooks). Colours come from the
// UI's Chakra tokens, so the card follows the light and dark themes.

const React = globalThis.React;
const h = React.createElement;

const color = (token, fallback) => `var(--chakra-colors-${token}, ${fallback})`;
const STATUS_COLORS = {
  stored: color("green-500", "#38a169"), incomplete: color("yellow-500", "#d69e2e"),
  waiting: color("blue-500", "#3182ce"), failed: color("red-500", "#e53e3e"), missing: color("gray-500", "#a0aec0"),
};

// Everything is relative to the UI's base URL (<base href>), so a sub-path deployment works too.
const url = (path) => new URL(path, document.baseURI).href;

function Section({ title, children }) {
  return h("div", { style: { minWidth: "220px", flex: "1 1 220px" } },
    h("div", { style: { fontWeight: 600, marginBottom: "6px" } }, title), children);
}

function Line({ children, tone }) {
  return h("div", { style: { color: tone || "inherit", fontSize: "14px", lineHeight: 1.6 } }, children);
}

function Muted({ children }) {
  return h("span", { style: { color: color("fg-muted", "#718096") } }, children);
}

function link(href, text, testId) {
  return h("a", { href: url(href), style: { color: color("fg-info", "#3182ce") }, "data-testid": testId }, text);
}

function SyncPart({ sync }) {
  const order = ["stored", "incomplete", "waiting", "failed", "missing"];
  return h(Section, { title: `Chart sync (${sync.charts} charts, latest period)` },
    h("div", { "data-testid": "mc-sync-counts", style: { display: "flex", gap: "10px", flexWrap: "wrap" } },
      ...order.map((state) => h("span", { key: state, "data-status": state },
        h("span", { style: { display: "inline-block", width: "10px", height: "10px", borderRadius: "5px",
          background: STATUS_COLORS[state], marginRight: "4px" } }), `${state} ${sync.counts[state]}`))),
    ...sync.problems.slice(0, 5).map((problem) => h(Line, { key: problem.slug },
      link(`musiccharts/pages/coverage?dag_id=${encodeURIComponent(problem.dag_id)}`, problem.slug),
      ` ${problem.start}: ${problem.status}`)),
    sync.hidden_charts ? h(Line, null, h(Muted, null, `${sync.hidden_charts} chart(s) not readable`)) : null,
    h(Line, null, link("musiccharts/pages/coverage", "coverage")));
}

function AlertsPart({ alerts }) {
  const lines = [];
  if (alerts.health_incidents !== null) {
    const open = alerts.health_incidents;
    lines.push(h(Line, { key: "health", tone: open.length ? STATUS_COLORS.failed : undefined },
      `${open.length} open health incident(s)`, open.length ? `: ${open.map((i) => i.check_name).join(", ")}` : ""));
  }
  if (alerts.fraud !== null) {
    lines.push(h(Line, { key: "fraud" }, link("musiccharts/pages/fraud", `${alerts.fraud.flags} fraud flag(s)`),
      ` in ${alerts.fraud.days} days`, alerts.fraud.max_score === null ? "" : `, top score ${alerts.fraud.max_score}`));
  }
  if (alerts.failed_analyses !== null) {
    lines.push(h(Line, { key: "analyses", tone: alerts.failed_analyses ? STATUS_COLORS.failed : undefined },
      link("musiccharts/pages/analyses?status=failed", `${alerts.failed_analyses} failed song analyses`)));
  }
  return h(Section, { title: "Open alerts" }, lines.length ? lines : h(Muted, null, "nothing you may read"));
}

function BackupPart({ backup }) {
  if (backup === null) return h(Section, { title: "Latest backup" }, h(Muted, null, "not readable"));
  const latest = backup.latest;
  const run = backup.last_run;
  return h(Section, { title: "Latest backup" },
    latest ? h(Line, { tone: latest.verified ? STATUS_COLORS.stored : STATUS_COLORS.failed },
      h("span", { "data-testid": "mc-backup" }, `${latest.verified ? "verified" : "NOT verified"} ${latest.created_at.slice(0, 16).replace("T", " ")}`),
      h("br"), h(Muted, null, `${latest.tables} tables, ${latest.rows.toLocaleString("en-US")} rows, ${(latest.size_bytes / 1e6).toFixed(1)} MB`))
      : h(Line, { tone: STATUS_COLORS.failed }, backup.location_error || "no backup yet"),
    run ? h(Line, null, link(`dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.run_id)}`, `last run: ${run.state}`)) : null,
    backup.age_check ? h(Line, null, h(Muted, null, `age check: ${backup.age_check.status}`)) : null);
}

export default function MusicChartsCard() {
  const [state, setState] = React.useState({ body: null, error: null });
  React.useEffect(() => {
    let alive = true;
    fetch(url("musiccharts/api/dashboard"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
      .then((body) => alive && setState({ body, error: null }))
      .catch((error) => alive && setState({ body: null, error: String(error.message || error) }));
    return () => { alive = false; };
  }, []);
  const frame = (children) => h("section", {
    "data-testid": "musiccharts-card",
    "data-loaded": state.body ? "true" : state.error ? "error" : undefined,
    style: { border: `1px solid ${color("border", "#e2e8f0")}`, borderRadius: "8px", padding: "12px 16px",
      background: color("bg-panel", "transparent"), color: color("fg", "inherit"), marginBottom: "8px" },
  }, h("div", { style: { fontWeight: 700, marginBottom: "8px" } }, "MusicCharts today"), children);
  if (state.error) return frame(h(Line, { tone: STATUS_COLORS.failed }, `MusicCharts data unavailable: ${state.error}`));
  if (!state.body) return frame(h(Muted, null, "Loading..."));
  const body = state.body;
  return frame(h("div", { style: { display: "flex", gap: "24px", flexWrap: "wrap" } },
    h(SyncPart, { sync: body.sync }), h(AlertsPart, { alerts: body.alerts }), h(BackupPart, { backup: body.backup })));
}

globalThis.AirflowPlugin = MusicChartsCard;
