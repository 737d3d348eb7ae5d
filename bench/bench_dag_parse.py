"""DagBag fill time of every DAG file and of the whole dags/ folder, as a ratio to a trivial DAG.

Each measurement runs in a fresh interpreter that has already imported Airflow and, like the
dag-processor (``parsing_pre_import_modules``), the ``airflow.*`` modules the file imports; so a
file pays for its own top-level imports and I/O exactly as it would in production.

Target: every file within 3x the trivial one-task DAG *per DAG it defines* (a factory file that
generates N DAGs is compared with N trivial DAGs; the file ratio is printed too).

    python bench/bench_dag_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 3.0

# The baseline is written the way our DAGs are (TaskFlow, Airflow 3 SDK), with one task and no work.
TRIVIAL_DAG = """
from datetime import datetime
import airflow.sdk.definitions.decorators
from airflow.sdk import DAG, task

with DAG(dag_id="trivial", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    @task
    def noop():
        pass

    noop()
"""

MEASURE = r"""
import json, sys, time, os, pathlib, logging
import airflow  # paid before timing, as the dag-processor's parsing process already has it
from airflow.dag_processing.dagbag import DagBag
from airflow.dag_processing.processor import _pre_import_airflow_modules
# The dag-processor pre-imports the airflow.* modules a file imports before it parses the file
# ([dag_processor] parsing_pre_import_modules, default True); do the same so the timing is what a file
# adds on top: its own imports (include/, plugins/, third-party) and its top-level work.
target = pathlib.Path(sys.argv[1])
for file in ([target] if target.is_file() else sorted(target.rglob("*.py"))):
    _pre_import_airflow_modules(str(file), logging.getLogger("pre-import"))
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
errors = {k: str(v)[:300] for k, v in bag.import_errors.items()}
print(json.dumps({"seconds": elapsed, "dags": len(bag.dags), "errors": errors}))
"""


def measure(path: Path, repeat: int) -> tuple[float, int, dict]:
    env = {
        **os.environ,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join(
            str(REPO_ROOT / part) for part in ("include", "plugins", "simulators", "stack")
        ),
    }
    env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-parse-"))
    samples, dags, errors = [], 0, {}
    for _ in range(repeat):
        out = (
            subprocess.run(
                [sys.executable, "-c", MEASURE, str(path)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        result = json.loads(out)
        samples.append(result["seconds"])
        dags, errors = result["dags"], result["errors"]
    return statistics.median(samples), dags, errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trivial = Path(tmp) / "trivial_dag.py"
        trivial.write_text(TRIVIAL_DAG)
        baseline, _, _ = measure(trivial, args.repeat)
    print(
        f"baseline: trivial one-task DAG fills a DagBag in {baseline * 1000:.1f} ms (median of {args.repeat})"
    )
    print(f"{'file':55} {'dags':>4} {'ms':>8} {'ratio':>6} {'per DAG':>8}  verdict")
    worst = 0.0
    files = sorted(p for p in (REPO_ROOT / "dags").rglob("*.py") if p.name != "__init__.py")
    for path in [*files, REPO_ROOT / "dags"]:
        seconds, dags, errors = measure(path, args.repeat)
        ratio = seconds / baseline
        label = str(path.relative_to(REPO_ROOT)) + ("/ (whole folder)" if path.is_dir() else "")
        per_dag = ratio / max(dags, 1)
        if path.is_file():
            worst = max(worst, per_dag)
        verdict = "ok" if path.is_dir() or per_dag <= TARGET_RATIO else f"OVER {TARGET_RATIO}x"
        print(f"{label:55} {dags:>4} {seconds * 1000:>8.1f} {ratio:>6.2f} {per_dag:>8.2f}  {verdict}")
        if errors:
            print(f"   import errors: {errors}")
    print(f"worst per-DAG ratio of a file: {worst:.2f}x (target <= {TARGET_RATIO}x)")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
