"""How every Kafka client of ours connects: the security part of aiokafka's keyword arguments."""

from typing import Any

from aiokafka.helpers import create_ssl_context

from cityloop.common.settings import CommonSettings


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer/Consumer/AdminClient besides ``bootstrap_servers``."""
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        if not (settings.kafka_sasl_mechanism and settings.kafka_sasl_username and settings.kafka_sasl_password):
            raise ValueError("SASL needs CITYLOOP_KAFKA_SASL_MECHANISM, _USERNAME and _PASSWORD")
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options
