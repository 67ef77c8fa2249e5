"""Open311's services from router's catalogue events (``catalogue.services``, compacted): each event is the
latest public offer of one category; intake keeps it for services.json and the service definitions."""

from cityloop.common.catalogue import CATALOGUE_SERVICE, service_of
from cityloop.common.db.pool import Conn
from cityloop.common.envelope import CloudEvent
from cityloop.intake.open311 import store


async def on_catalogue(conn: Conn, event: CloudEvent) -> None:
    if event.type != CATALOGUE_SERVICE:
        return
    service = service_of(event)
    if not service.reportable:
        # Handed to 110/119/120/122: not offered (and withdrawn if an earlier version offered it).
        await store.withdraw_service(conn, service.code)
        return
    await store.offer_service(conn, service)
