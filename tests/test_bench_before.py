"""benchmarks/harness.py --before REV: the copy of REV is what the before gateway runs, and the report shows
both gateways' rows and their ratio. (The measurements themselves need wrk, nginx...: benchmarks/run.sh.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import configs  # noqa: E402
import harness  # noqa: E402
import report  # noqa: E402

in_git = shutil.which("git") is not None and (REPO / ".git").exists()


def bench(work: Path) -> harness.Bench:
    return harness.Bench(work, harness.Plan(1, 1, 1, 1, 1), configs.Ports())


@pytest.mark.skipif(not in_git, reason="needs a git checkout")
def test_before_copy_is_what_python_imports(tmp_path: Path) -> None:
    """The venv's editable install points at this checkout: the copy must win, or the table compares us to us."""
    before = bench(tmp_path).prepare_before("HEAD")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=9", "HEAD"], capture_output=True, text=True)
    assert before.commit == head.stdout.strip()
    assert before.source == tmp_path / f"before-{before.commit}"
    imported = subprocess.run(
        [str(harness.PYTHON), "-c", "import proxy; print(proxy.__file__)"],
        cwd=before.source,
        env={"PYTHONPATH": str(before.source), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert imported == str(before.source / "proxy" / "__init__.py")


@pytest.mark.skipif(not in_git, reason="needs a git checkout")
def test_before_unknown_revision_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a revision"):
        bench(tmp_path).prepare_before("no-such-revision-here")


@pytest.mark.parametrize(
    ("results", "best"),
    [
        pytest.param(
            [{"rps": 10.0}, {"rps": 30.0}, {"rps": 20.0}], {"rps": 30.0, "all_rps": [10.0, 30.0, 20.0]}, id="req/s"
        ),
        pytest.param([{"mb_s": 5.0}, {"mb_s": 7.0}], {"mb_s": 7.0}, id="MB/s"),
        pytest.param(
            [{"p99_ms": 2.0, "p50_ms": 1.0}, {"p99_ms": 1.5, "p50_ms": 1.2}], {"p99_ms": 1.5, "p50_ms": 1.2}, id="p99"
        ),
    ],
)
def test_best_of(results: list[dict[str, float]], best: dict[str, float]) -> None:
    assert harness.best_of(results) == best


def test_report_shows_both_rows_and_their_ratio() -> None:
    meta = {
        "date": "2026-12-07 12:00 UTC",
        "mode": "quick",
        "elapsed_s": 1,
        "machine": {"nproc": 2, "cpu": "x", "kernel": "k", "loadavg_at_end": ["1", "1", "1"]},
        "versions": dict.fromkeys(("python", "packages", "nginx", "caddy", "haproxy", "wrk", "h2load", "curl"), "v"),
        "notes": [],
        "commands": {},
        "before": {"rev": "a5f0550", "commit": "a5f0550fa", "subject": "the start"},
    }
    results = {
        "small_get": {"ours": {"rps": 3000.0, "all_rps": [2900.0, 3000.0]}, "before": {"rps": 2000.0}},
        "upload": {"ours": {"mb_s": 100.0}, "before": {"error": "boom"}},
    }
    text = report.markdown(meta, results)
    assert "`bash benchmarks/run.sh --quick --before a5f0550`" in text
    assert "| Small GET throughput | req/s | 3,000 | 2,000 | 1.50x | higher |" in text
    assert "| 100 MiB upload | MB/s | 100 | failed | - | higher |" in text
    assert "| ours@a5f0550fa | 2,000 |" in text  # its row in the scenario table
    assert "| ours / ours@a5f0550fa | 1.50x |" in text  # and the ratio under it
