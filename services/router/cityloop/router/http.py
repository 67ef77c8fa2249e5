"""Shared by router's views (each domain's views.py): the router's context as a request dependency.
The pool, transactions, pages and errors come from the kernel in libs/common (deps.py, paging.py, errors.py)."""

from typing import Annotated

from fastapi import Depends, Request

from cityloop.router.context import RouterContext


def context(request: Request) -> RouterContext:
    ctx: RouterContext = request.app.state.router_ctx
    return ctx


async def _context(request: Request) -> RouterContext:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop on every request.
    return context(request)


Ctx = Annotated[RouterContext, Depends(_context)]
