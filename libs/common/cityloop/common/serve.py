"""The entry point every service's ``__main__`` calls: logging, then uvicorn on the service's port."""

from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from cityloop.common.logging import configure_logging
from cityloop.common.settings import CommonSettings

S = TypeVar("S", bound=CommonSettings)


def serve(settings: S, create_app: Callable[[S], FastAPI]) -> None:
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    # proxy_headers=False: uvicorn would otherwise take X-Forwarded-For from 127.0.0.1; the gateway decides
    # whom to believe itself (services/intake/cityloop/intake/rate_limits.py).
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None, proxy_headers=False
    )
