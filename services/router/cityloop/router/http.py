"""Shared by router's views (each domain's views.py): the router's context as a request dependency.
The pool, transactions, pages and errors come from the kernel in libs/common (deps.py, paging.py, errors.py)."""

from typing import Annotated

from fastapi import Depends, Request

from cityloop.router.context import RouterContext


def context(request: Request) -> RouterContext:
    ctx: RouterContext = request.app.state.router_ctx
    return ctx


Ctx = Annotated[RouterContext, Depends(context)]
