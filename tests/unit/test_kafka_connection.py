import ssl

import pytest

from cityloop.common.kafka.connection import client_options
from cityloop.common.settings import CommonSettings


def test_plaintext_by_default() -> None:
    assert client_options(CommonSettings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_carries_credentials_and_a_tls_context() -> None:
    settings = CommonSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="cityloop-router",
        kafka_sasl_password="pw",
    )
    options = client_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "cityloop-router"
    assert options["sasl_plain_password"] == "pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="SASL needs"):
        client_options(CommonSettings(kafka_security_protocol="SASL_PLAINTEXT"))
