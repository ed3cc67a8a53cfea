"""Debian's chromium, headless, driven by Playwright for Python (no browser download: the system one), for
the dashboard test and scripts/dashboard_screenshot.py. Offline: no sync, no update checks, no QUIC."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"{CHROMIUM} is missing (apt-get install chromium; scripts/test.sh does it when it can)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in the test extra)"
    return None
