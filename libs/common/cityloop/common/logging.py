"""Structured logs (structlog, JSON lines) carrying ticket_id and event_id wherever they are known.

structlog over the stdlib formatter: context binding (``bind_contextvars``) follows a request or an event
through every await without threading loggers by hand.
"""

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from cityloop.common.personal.redaction import redact


def redact_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """No log line carries a phone number, an ID number, a bank card or an e-mail address in full, whatever
    put it there (an exception's text, a value bound to the context): every text value is redacted."""
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


class RedactingFilter(logging.Filter):
    """The same for the standard library's log records (aiokafka, uvicorn, asyncio)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        redact_personal_data,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format=f"%(asctime)s {service} %(name)s %(levelname)s %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # aiokafka is chatty at INFO about every group join; warnings are what an operator needs.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
