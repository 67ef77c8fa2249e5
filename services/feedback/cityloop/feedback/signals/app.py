"""The faust app of feedback's stream worker, configured from ``SignalsSettings`` like every other client:
the same bootstrap servers, security protocol and SASL credentials (``cityloop.common.kafka.connection``),
and the deployment's topic prefix in front of its app id, hence of its group and internal topics."""

from typing import Any

import faust

from cityloop.common.kafka.connection import client_options
from cityloop.feedback.signals import fetching
from cityloop.feedback.signals.settings import SignalsSettings


def broker_credentials(settings: SignalsSettings) -> Any:
    """faust's credentials object for the options every aiokafka client of ours gets."""
    options = client_options(settings)
    protocol = options["security_protocol"]
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            ssl_context=options.get("ssl_context"),
            mechanism=options["sasl_mechanism"],
        )
    if protocol == "SSL":
        return options["ssl_context"]  # faust wraps a bare SSLContext in SSLCredentials
    return None


#: faust's app id without the deployment's topic prefix (settings.app_id has it).
APP_ID = "cityloop.feedback.signals"


class SignalsApp(faust.App):
    """A faust app whose consumer fetches in batches (fetching.py)."""

    def __init__(self, *args: Any, fetch_min_bytes: int, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_min_bytes = fetch_min_bytes
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return fetching.Transport(self.conf.broker_consumer, self)


def create_app(settings: SignalsSettings) -> faust.App:
    return SignalsApp(
        settings.app_id,
        fetch_min_bytes=settings.fetch_min_bytes,
        fetch_max_wait_ms=round(settings.fetch_max_wait_seconds * 1000),
        broker=[f"kafka://{host.strip()}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=broker_credentials(settings),
        broker_client_id=settings.app_id,
        # The tables live in memory and are rebuilt from their changelog topics at start (check_clients.py
        # proves this against the pinned broker); no local RocksDB to keep on a read-only container.
        store="memory://",
        datadir=str(settings.data_dir / settings.app_id),
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        # No extra "<app id>-__assignor-__leader" topic: the worker has no leader-only work.
        topic_disable_leader=True,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        broker_rebalance_timeout=settings.rebalance_timeout_seconds,
        broker_commit_interval=settings.commit_interval_seconds,
        stream_recovery_delay=0.1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=settings.producer_linger_seconds,
        web_enabled=True,
        web_bind=settings.http_host,
        web_port=settings.http_port,
        web_host=settings.http_host,
    )


settings = SignalsSettings()
app = create_app(settings)


def recovered() -> bool:
    """Whether the tables are rebuilt from their changelogs (after a start or a rebalance)."""
    manager: Any = app.tables  # TableManagerT does not declare the recovery service it has
    return bool(manager.recovery.completed.is_set())
