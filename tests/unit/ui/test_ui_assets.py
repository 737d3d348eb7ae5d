"""The UI plugin's front end works offline: every asset is a file of the plugin, the library is the pinned one."""

from __future__ import annotations

import hashlib
import re

from tests.paths import REPO_ROOT

UI_DIR = REPO_ROOT / "plugins" / "musiccharts_airflow" / "ui"


def makefile_value(name: str) -> str:
    match = re.search(rf"^{name} := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"{name} not set in the Makefile"
    return match.group(1)


def test_vendored_charting_library_is_the_pinned_npm_build():
    bundle = UI_DIR / "static" / "vendor" / "echarts" / "echarts.min.js"
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == makefile_value("ECHARTS_SHA256")
    assert "Apache License" in (bundle.parent / "LICENSE").read_text()


def test_pages_load_nothing_from_other_hosts():
    for path in [
        *UI_DIR.glob("templates/*.html"),
        *UI_DIR.glob("static/js/*.js"),
        *UI_DIR.glob("static/css/*.css"),
    ]:
        text = path.read_text()
        remote = re.findall(
            r"""(?:src|href)\s*=\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//|fetch\(\s*["']https?:""",
            text,
        )
        assert remote == [], f"{path.name} loads from another host: {remote}"


def test_every_page_has_its_template_and_script():
    from musiccharts_airflow.ui.pages import PAGE_NAMES, PAGES_DIR

    for name in PAGE_NAMES:
        html = (PAGES_DIR / f"{name}.html").read_text()
        script = re.search(r'src="\.\./static/js/(\w+)\.js"></script>\s*</body>', html)
        assert script and (UI_DIR / "static" / "js" / f"{script.group(1)}.js").is_file(), name


def test_dashboard_card_is_a_self_contained_module_on_the_hosts_react():
    """Airflow imports the bundle with import() and renders globalThis.AirflowPlugin with its own React: the
    module must not import anything (a bare "react" import cannot resolve in the browser, and a second React
    would break hooks)."""
    registration = (UI_DIR / "plugin.py").read_text()  # not imported: that would register the plugin twice
    assert '"/static/js/dashboard-card.js"' in registration and '"destination": "dashboard"' in registration
    card = (UI_DIR / "static" / "js" / "dashboard-card.js").read_text()
    assert re.findall(r"^\s*import\b|\bimport\(|\brequire\(", card, re.MULTILINE) == []
    assert "globalThis.React" in card and "globalThis.AirflowPlugin = " in card
