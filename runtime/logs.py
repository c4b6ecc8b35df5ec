"""structlog, configured in one place.

JSON lines when output is not a terminal or `MOTCUA_LOG=json` (what the audit tooling reads),
readable console lines otherwise. Everything logs to stderr so that command output on stdout
stays clean for scripts.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog

_configured = False


class _StderrLogger:
    """Writes each line to whatever `sys.stderr` is *now*.

    structlog's PrintLogger keeps the stream it was given; when that stream is replaced and
    closed (pytest's capture, a daemonised worker), later log calls would fail, and a failing
    log call inside an activity fails the activity.
    """

    def __init__(self, *args: object) -> None:
        pass

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def configure(level: str | None = None) -> None:
    """Configure structlog and the standard logging it writes through; idempotent."""
    global _configured
    if _configured:
        return
    _configured = True
    mode = os.environ.get("MOTCUA_LOG", "")
    as_json = mode == "json" or (mode != "console" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if as_json
        else structlog.dev.ConsoleRenderer()
    )
    level_name = (level or os.environ.get("MOTCUA_LOG_LEVEL", "INFO")).upper()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=_StderrLogger,
        cache_logger_on_first_use=True,
    )


def set_level(level: str) -> None:
    """Log from `level` up from now on, unless MOTCUA_LOG_LEVEL says otherwise, in structlog and
    in standard logging (temporalio's): a command whose output is a report (`motcua dryrun`)
    keeps the worker's lines out of it."""
    name = os.environ.get("MOTCUA_LOG_LEVEL", level).upper()
    number = logging.getLevelNamesMapping().get(name, logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(number))
    logging.getLogger().setLevel(number)
