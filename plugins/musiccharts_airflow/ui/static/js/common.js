// Shared helpers of the MusicCharts pages: theme, JSON fetching, links into the Airflow UI, REST actions.
"use strict";

const MC = (() => {
  const pagesMarker = "/musiccharts/pages/";
  const here = window.location.pathname;
  // Airflow may be served under a sub-path; everything is relative to where the plugin is mounted.
  const root = here.slice(0, here.indexOf(pagesMarker));
  const apiBase = root + "/musiccharts/api";
  const params = new URLSearchParams(window.location.search);

  // The Airflow UI marks <html> with class "dark" or "light" (next-themes). Pages are shown in its iframe,
  // same origin, so they follow it live; opened alone they follow the system preference.
  function hostColorMode() {
    try {
      const hostRoot = window.parent !== window ? window.parent.document.documentElement : null;
      if (hostRoot && hostRoot.classList.contains("dark")) return "dark";
      if (hostRoot && hostRoot.classList.contains("light")) return "light";
    } catch (error) { /* not same origin: fall through */ }
    const forced = params.get("theme");
    if (forced === "dark" || forced === "light") return forced;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  const themeListeners = [];
  function applyTheme() {
    const mode = hostColorMode();
    const changed = document.documentElement.classList.contains("dark") !== (mode === "dark");
    document.documentElement.classList.toggle("dark", mode === "dark");
    if (changed) themeListeners.forEach((listener) => listener(mode));
    return mode;
  }
  applyTheme();
  try {
    if (window.parent !== window) {
      new MutationObserver(applyTheme).observe(window.parent.document.documentElement,
        { attributes: true, attributeFilter: ["class"] });
    }
  } catch (error) { /* not same origin */ }
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", applyTheme);

  function onThemeChange(listener) { themeListeners.push(listener); }
  function isDark() { return document.documentElement.classList.contains("dark"); }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  async function getJSON(path, query) {
    const url = new URL(apiBase + path, window.location.origin);
    for (const [key, value] of Object.entries(query || {})) {
      if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
      else if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  async function errorText(response) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch (error) { /* not JSON */ }
    return `${response.status}: ${detail}`;
  }

  // Actions go to Airflow's own REST API with the user's own session; Airflow checks the permission.
  async function postAirflow(path, body) {
    const response = await fetch(root + "/api/v2" + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(await errorText(response));
    return response.json();
  }

  const airflow = {
    dag: (dagId) => `${root}/dags/${encodeURIComponent(dagId)}`,
    run: (dagId, runId) => `${root}/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`,
    backfills: (dagId) => `${root}/dags/${encodeURIComponent(dagId)}/backfills`,
    // A task of a run; a mapped task's instance when its map index is known, else the list of instances.
    task: (dagId, runId, taskId, mapIndex) => {
      const base = `${root}/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}`;
      if (mapIndex === undefined) return base;
      return mapIndex === null ? `${base}/mapped` : `${base}/mapped/${mapIndex}`;
    },
  };
  const pages = {
    coverage: (query) => `${root}${pagesMarker}coverage${query ? "?" + new URLSearchParams(query) : ""}`,
    chart: (slug) => `${root}${pagesMarker}chart?slug=${encodeURIComponent(slug)}`,
    track: (uuid) => `${root}${pagesMarker}track?uuid=${encodeURIComponent(uuid)}`,
    artist: (uuid) => `${root}${pagesMarker}track?artist=${encodeURIComponent(uuid)}`,
    fraud: (query) => `${root}${pagesMarker}fraud${query ? "?" + new URLSearchParams(query) : ""}`,
    analyses: (query) => `${root}${pagesMarker}analyses${query ? "?" + new URLSearchParams(query) : ""}`,
  };

  // Links into Airflow leave the iframe; links between our pages stay inside it.
  function link(href, text, { top = false } = {}) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (top) a.target = "_top";
    return a;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function showError(container, error) {
    container.replaceChildren(el("p", { class: "error", role: "alert" }, String(error.message || error)));
  }

  function formatNumber(value) {
    return value === null || value === undefined ? "" : Number(value).toLocaleString("en-US");
  }

  function chartTheme() {
    return {
      backgroundColor: "transparent",
      textStyle: { color: cssVar("--fg") },
      axisColor: cssVar("--muted"),
      gridColor: cssVar("--border"),
    };
  }

  return { params, getJSON, postAirflow, airflow, pages, link, el, showError, formatNumber, chartTheme,
           onThemeChange, isDark, cssVar, root };
})();
