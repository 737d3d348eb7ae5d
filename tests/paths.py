"""Where the tests find the repository's files: from the repository root, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DAGS_DIR = REPO_ROOT / "dags"
#: Real Soundcharts and ACRCloud responses, kept unchanged in the repository: the only fixtures tests read.
RECORDED = REPO_ROOT / "tests" / "fixtures" / "recorded"
#: Responses of endpoints nothing was recorded for, written from the official reference's schema (see README).
DOCUMENTED = REPO_ROOT / "tests" / "fixtures" / "documented"
