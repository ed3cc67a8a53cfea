"""Traefik's `log` section for our own log lines: `format` common (zerolog's console writer: time, a
three-letter level, the message; coloured on a terminal unless `noColor`) or json (zerolog's fields
`level`, `time`, `message`), written to `filePath` or, by default, stderr."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from proxy.config.static import LogConfig

SHORT = {
    logging.DEBUG: "DBG",
    logging.INFO: "INF",
    logging.WARNING: "WRN",
    logging.ERROR: "ERR",
    logging.CRITICAL: "FTL",
}
JSON_LEVELS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
COLOURS = {
    logging.DEBUG: "\x1b[33m",
    logging.INFO: "\x1b[32m",
    logging.WARNING: "\x1b[31m",
    logging.ERROR: "\x1b[1m\x1b[31m",
    logging.CRITICAL: "\x1b[1m\x1b[31m",
}
RESET = "\x1b[0m"


def _rfc3339(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + "Z"


class CommonFormatter(logging.Formatter):
    def __init__(self, tag: str, colour: bool) -> None:
        super().__init__()
        self.tag = tag
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        level = SHORT.get(record.levelno, "???")
        if self.colour:
            level = f"{COLOURS.get(record.levelno, '')}{level}{RESET}"
        text = f"{_rfc3339(record.created)} {level} {self.tag}{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JSONFormatter(logging.Formatter):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag.strip()

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "level": JSON_LEVELS.get(record.levelno, "info"),
            "logger": record.name,
            "time": _rfc3339(record.created),
            "message": record.getMessage(),
        }
        if self.tag:
            data["worker"] = self.tag.strip("[] ")
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data)


def log_handler(config: LogConfig | None, tag: str = "") -> tuple[logging.Handler, list[str]]:
    """The handler for `config` and warnings about what of it is not acted on."""
    warnings: list[str] = []
    stream: TextIO = sys.stderr
    handler: logging.Handler
    if config is not None and config.file_path:
        path = Path(config.file_path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8")
        assert file_handler.stream is not None  # opened at once (delay=False)
        handler, stream = file_handler, file_handler.stream
    else:
        handler = logging.StreamHandler(stream)
    fmt = config.format if config is not None else "common"
    if fmt == "json":
        handler.setFormatter(JSONFormatter(tag))
    else:
        if fmt != "common":
            warnings.append(f"log.format: unknown format {fmt!r}, the common format is used")
        colour = config is not None and not config.no_color and stream.isatty()
        handler.setFormatter(CommonFormatter(tag, colour))
    # log.maxSize/maxAge/maxBackups/compress and log.otlp are warned about with the static configuration
    # (proxy/config/unimplemented.py).
    return handler, warnings
