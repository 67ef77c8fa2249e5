"""/open311/v2: discovery, services, service definitions, requests (GET and POST), tokens; JSON and XML."""

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel

from cityloop.common.db.pool import Conn
from cityloop.common.deps import pool_of
from cityloop.intake.accounts.authn import settings_of
from cityloop.intake.accounts.credentials import hash_api_key
from cityloop.intake.open311 import store
from cityloop.intake.open311.documents import (
    FORMATS,
    MEDIA_TYPES,
    SPECIFICATION,
    AcceptedRequest,
    Attribute,
    AttributeValue,
    CreatedRequest,
    Discovery,
    Endpoint,
    Error,
    Format,
    Service,
    ServiceDefinition,
    ServiceRequest,
    TokenAnswer,
    render,
)
from cityloop.intake.open311.rules import (
    MAX_RESULTS,
    check_attributes,
    outside,
    parse_w3,
    read_form,
    request_window,
    service_request,
    split_list,
    statuses,
    to_ticket,
)
from cityloop.intake.rate_limits import RateLimit, client_address
from cityloop.intake.tickets.creation import create_ticket

PREFIX = "/open311/v2"
CHANGESET = "2026-11-22T00:00:00+08:00"  # bump when services or their definitions change
TZ = ZoneInfo("Asia/Shanghai")
SERVICE_NOTICE = "12345 已受理，将在1个工作日内派发至承办单位 (dispatched to the responsible unit within 1 working day)"

router = APIRouter(prefix=PREFIX, tags=["open311"])


class Open311Error(Exception):
    """Answered in the spec's error format: [{code, description}] / <errors><error>...</error></errors>."""

    def __init__(self, status: int, fmt: Format, *descriptions: str) -> None:
        super().__init__(status, descriptions)
        self.status = status
        self.fmt = fmt
        self.errors = [Error(code=status, description=d) for d in descriptions]


def error_response(status: int, fmt: Format, errors: list[Error], headers: dict[str, str] | None = None) -> Response:
    return Response(render(errors, fmt, kind=Error), status_code=status, media_type=MEDIA_TYPES[fmt], headers=headers)


def error_body_for_path(path: str, limit: int) -> tuple[bytes, str]:
    """The body-size limit's answer on Open311 paths, in the spec's format."""
    fmt: Format = "xml" if path.endswith(".xml") else "json"
    errors = [Error(code=413, description=f"request body is larger than {limit} bytes")]
    return render(errors, fmt, kind=Error), MEDIA_TYPES[fmt]


def install(app: FastAPI) -> None:
    async def handle(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Open311Error)
        return error_response(exc.status, exc.fmt, exc.errors)

    app.add_exception_handler(Open311Error, handle)
    app.include_router(router)


def _format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise Open311Error(404, "json", f"format {fmt!r} not supported; use json or xml")
    return "json" if fmt == "json" else "xml"


def _ok(document: BaseModel | list[Any], fmt: Format, kind: type[BaseModel], status: int = 200) -> Response:
    return Response(render(document, fmt, kind=kind), status_code=status, media_type=MEDIA_TYPES[fmt])


async def _limit(request: Request, fmt: Format, client: str | None = None) -> None:
    """Per client address (through trusted proxies only, see app.py), and within an app's key once the key is
    known good: one busy app does not starve the others, and a guessed key buys no extra requests."""
    limit: RateLimit = request.app.state.open311_limit
    address = f"ip:{client_address(request)}"
    if not await limit.allow(f"key:{client}|{address}" if client else address):
        raise Open311Error(429, fmt, f"rate limit exceeded ({limit.spec} per client); retry later")


def _jurisdiction(request: Request, fmt: Format, given: str | None) -> None:
    if given and given.strip() and given.strip() != settings_of(request).open311_jurisdiction_id:
        raise Open311Error(404, fmt, f"jurisdiction_id {given} not found")


def _xml_and_json(example: Any) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {"application/json": {"example": example}, "text/xml": {"schema": {"type": "string"}}}},
        "4XX": {"description": "[{code, description}] or <errors><error><code/><description/></error></errors>"},
    }


@router.get(
    "/discovery.{fmt}",
    operation_id="open311_discovery",
    responses=_xml_and_json({"changeset": CHANGESET, "contact": "...", "key_service": "...", "endpoints": []}),
)
async def discovery(request: Request, fmt: str) -> Response:
    f = _format(fmt)
    await _limit(request, f)
    settings = settings_of(request)
    document = Discovery(
        changeset=CHANGESET,
        contact=settings.open311_contact,
        key_service=settings.open311_key_service,
        endpoints=[
            Endpoint(
                specification=SPECIFICATION,
                url=settings.open311_base_url,
                changeset=CHANGESET,
                type="production" if settings.environment == "production" else "test",
                formats=["text/xml", "application/json"],
            )
        ],
    )
    return _ok(document, f, Discovery)


@router.get(
    "/services.{fmt}",
    operation_id="open311_list_services",
    responses=_xml_and_json([{"service_code": "sanitation.garbage", "service_name": "垃圾清运", "metadata": True}]),
)
async def services(request: Request, fmt: str, jurisdiction_id: str | None = None) -> Response:
    f = _format(fmt)
    await _limit(request, f)
    _jurisdiction(request, f, jurisdiction_id)
    async with pool_of(request).acquire() as conn:
        rows = await store.open311_services(conn)
    return _ok([_service(r) for r in rows], f, Service)


def _service(row: Any) -> Service:
    return Service(
        service_code=row["service_code"],
        service_name=row["service_name"],
        description=row["description"],
        metadata=bool(row["metadata"]),
        type=row["type"],
        keywords=row["keywords"],
        group=row["group_name"],
    )


async def _attributes(conn: Conn, service_code: str) -> list[Attribute]:
    return [
        Attribute(
            variable=r["variable"],
            code=r["code"],
            datatype=r["datatype"],
            required=r["required"],
            datatype_description=r["datatype_description"],
            order=r["ord"],
            description=r["description"],
            values=[AttributeValue(key=str(v["key"]), name=str(v["name"])) for v in r["values"]],
        )
        for r in await store.open311_attributes(conn, service_code)
    ]


@router.get(
    "/services/{service_code}.{fmt}",
    operation_id="open311_get_service_definition",
    responses=_xml_and_json({"service_code": "transport.pothole", "attributes": [{"code": "size"}]}),
)
async def service_definition(
    request: Request, service_code: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    f = _format(fmt)
    await _limit(request, f)
    _jurisdiction(request, f, jurisdiction_id)
    async with pool_of(request).acquire() as conn:
        if await store.open311_service(conn, service_code) is None:
            raise Open311Error(404, f, f"service_code {service_code} not found")
        attributes = await _attributes(conn, service_code)
    return _ok(ServiceDefinition(service_code=service_code, attributes=attributes), f, ServiceDefinition)


_POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code"],
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "api_key",
                            "jurisdiction_id",
                            "service_code",
                            "lat",
                            "long",
                            "address_string",
                            "address_id",
                            "email",
                            "device_id",
                            "account_id",
                            "first_name",
                            "last_name",
                            "phone",
                            "description",
                            "media_url",
                        )
                    },
                    "additionalProperties": {"type": "string", "description": "attribute[code]=value"},
                },
                "example": {
                    "api_key": "demo-open311-key",
                    "service_code": "transport.pothole",
                    "lat": "31.2304",
                    "long": "121.4737",
                    "description": "路面有大坑",
                    "attribute[size]": "large",
                },
            }
        },
    }
}


@router.post(
    "/requests.{fmt}",
    operation_id="open311_create_request",
    openapi_extra=_POST_BODY,
    responses=_xml_and_json([{"service_request_id": "T20261122-0000001", "service_notice": "...", "account_id": None}]),
)
async def create_request(request: Request, fmt: str) -> Response:
    f = _format(fmt)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise Open311Error(400, f, "send the request form-encoded (application/x-www-form-urlencoded)")
    form = read_form(list((await request.form()).multi_items()))  # type: ignore[arg-type]
    api_key = form.get("api_key")
    pool = pool_of(request)
    async with pool.acquire() as conn:
        client = await store.open311_client(conn, hash_api_key(api_key)) if api_key else None
        if client is None:
            await _limit(request, f)  # a wrong key still costs the address
            raise Open311Error(403, f, "api_key was not provided" if not api_key else "invalid api_key")
        await _limit(request, f, client)
        _jurisdiction(request, f, form.get("jurisdiction_id"))
        service_code = form.get("service_code")
        if service_code is None:
            raise Open311Error(400, f, "service_code was not provided")
        service = await store.open311_service(conn, service_code)
        if service is None:
            raise Open311Error(404, f, f"service_code {service_code} not found")
        attribute_values, problems = check_attributes(await _attributes(conn, service_code), form.attributes)
    ticket, more = to_ticket(form, service_code, service["service_name"])
    problems += more
    if ticket is not None and outside(ticket.location.lat, ticket.location.lon, settings_of(request).open311_bbox):
        problems.append("lat/long: the location is outside this jurisdiction")
    if problems or ticket is None:
        raise Open311Error(400, f, *problems)
    token = uuid.uuid4().hex

    async def remember(conn: Conn, ticket_id: str) -> None:
        await store.insert_open311_request(
            conn,
            token=token,
            ticket_id=ticket_id,
            client=client,
            account_id=form.get("account_id"),
            device_id=form.get("device_id"),
        )

    created = await create_ticket(
        pool,
        ticket,
        keyring=request.app.state.keyring,
        created_by=f"open311:{client}",
        attributes=attribute_values,
        also=remember,
    )
    ticket_id = created.ticket_id
    account_id = form.get("account_id")
    if service["type"] == "batch":
        return _ok(
            [AcceptedRequest(token=token, service_notice=SERVICE_NOTICE, account_id=account_id)], f, AcceptedRequest
        )
    answer = CreatedRequest(service_request_id=ticket_id, service_notice=SERVICE_NOTICE, account_id=account_id)
    return _ok([answer], f, CreatedRequest)


@router.get(
    "/requests.{fmt}",
    operation_id="open311_list_requests",
    responses=_xml_and_json([{"service_request_id": "T20261122-0000001", "status": "open"}]),
)
async def list_requests(
    request: Request,
    fmt: str,
    *,
    jurisdiction_id: str | None = None,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Requests made through Open311: newest first, at most 90 days and 1000 requests."""
    f = _format(fmt)
    await _limit(request, f)
    _jurisdiction(request, f, jurisdiction_id)
    async with pool_of(request).acquire() as conn:
        if ids := split_list(service_request_id):
            # "This overrides all other arguments."
            rows = await store.open311_requests_by_id(conn, ids[:MAX_RESULTS])
        else:
            try:
                start = parse_w3(start_date, "start_date") if start_date and start_date.strip() else None
                end = parse_w3(end_date, "end_date") if end_date and end_date.strip() else None
                window = request_window(start, end, datetime.now(UTC))
                wanted = statuses(status)
            except ValueError as exc:
                raise Open311Error(400, f, str(exc)) from None
            rows = await store.open311_requests(
                conn,
                service_codes=split_list(service_code),
                statuses=wanted,
                start=window[0],
                end=window[1],
                limit=MAX_RESULTS,
            )
    return _ok([service_request(r, notice=SERVICE_NOTICE, tz=TZ) for r in rows], f, ServiceRequest)


@router.get(
    "/requests/{service_request_id}.{fmt}",
    operation_id="open311_get_request",
    responses=_xml_and_json([{"service_request_id": "T20261122-0000001", "status": "open"}]),
)
async def get_request(
    request: Request, service_request_id: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    f = _format(fmt)
    await _limit(request, f)
    _jurisdiction(request, f, jurisdiction_id)
    async with pool_of(request).acquire() as conn:
        rows = await store.open311_requests_by_id(conn, [service_request_id])
    if not rows:
        raise Open311Error(404, f, f"service_request_id {service_request_id} not found")
    return _ok([service_request(rows[0], notice=SERVICE_NOTICE, tz=TZ)], f, ServiceRequest)


@router.get(
    "/tokens/{token}.{fmt}",
    operation_id="open311_get_token",
    responses=_xml_and_json([{"service_request_id": "T20261122-0000001", "token": "9f2c..."}]),
)
async def get_token(request: Request, token: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
    f = _format(fmt)
    await _limit(request, f)
    _jurisdiction(request, f, jurisdiction_id)
    async with pool_of(request).acquire() as conn:
        row = await store.open311_token(conn, token)
    if row is None:
        raise Open311Error(404, f, f"token {token} not found")
    return _ok([TokenAnswer(service_request_id=row["ticket_id"], token=row["token"])], f, TokenAnswer)
