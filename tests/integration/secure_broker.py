"""A second, private Kafka broker that authenticates (SASL/SCRAM-SHA-512) and authorizes (KRaft's
StandardAuthorizer, nothing allowed without an ACL), as production's Strimzi cluster does: the same Maven
jars as scripts/infra/kafka.sh, its own temporary home and free ports, so the shared broker of `make test` is
never touched. SCRAM users are created when the storage is formatted; ACLs are set from Strimzi KafkaUser
objects (deploy/k8s/) through tests/integration/SetAcls.java. Stopped and deleted when the block ends."""

import asyncio
import atexit
import base64
import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from tests.integration.private_broker import free_ports

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "scripts" / "infra" / "kafka.sh"
SET_ACLS = Path(__file__).resolve().parent / "SetAcls.java"
ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"


def kafka_libs() -> Path:
    """The broker's jars, fetched once by scripts/infra/kafka.sh into the cache every clone shares."""
    subprocess.run([str(KAFKA_SH), "fetch"], check=True, capture_output=True)
    default = re.search(r'KAFKA_VERSION="\$\{KAFKA_VERSION:-([0-9.]+)\}"', KAFKA_SH.read_text())
    assert default, "no default KAFKA_VERSION in scripts/infra/kafka.sh"
    version = os.environ.get("KAFKA_VERSION", default.group(1))
    cache = Path(os.environ.get("CITYLOOP_CACHE", Path.home() / ".cache" / "cityloop"))
    return cache / f"kafka-{version}" / "libs"


def _camel_to_enum(word: str) -> str:
    """Strimzi's ``IdempotentWrite`` / ``transactionalId`` -> Kafka's ``IDEMPOTENT_WRITE`` / ``TRANSACTIONAL_ID``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", word).upper()


def bindings_of(user: Mapping[str, Any]) -> list[str]:
    """A Strimzi KafkaUser's ACLs as SetAcls.java bindings (principal User:<metadata.name>)."""
    principal = f"User:{user['metadata']['name']}"
    out = []
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        rtype = _camel_to_enum(resource["type"])
        name = resource.get("name", "kafka-cluster")
        pattern = {"literal": "LITERAL", "prefix": "PREFIXED"}[resource.get("patternType", "literal")]
        permission = acl.get("type", "allow").upper()
        for op in acl["operations"]:
            out.append(f"{principal}|{rtype}|{name}|{pattern}|{_camel_to_enum(op)}|{permission}")
    return out


def _terminate(pid: int, home: str) -> None:
    with contextlib.suppress(OSError):
        if home in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGTERM)


@dataclass
class SecureBroker:
    home: Path
    port: int
    controller_port: int
    #: username -> password, the admin (a super user) included
    users: dict[str, str]
    libs: Path
    process: asyncio.subprocess.Process | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_options(self, user: str) -> dict[str, Any]:
        """aiokafka's keyword arguments for ``user`` (as CITYLOOP_KAFKA_SASL_* give a service)."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": self.users[user],
        }

    def _config(self) -> Path:
        admin = self.users[ADMIN]
        conf = self.home / "server.properties"
        conf.write_text(
            f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{self.controller_port}
listeners=SASL_PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}
advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{self.port}
inter.broker.listener.name=SASL_PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms={MECHANISM}
sasl.mechanism.inter.broker.protocol={MECHANISM}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN}" password="{admin}";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# admin: the broker itself and the test's setup. ANONYMOUS: the broker's own requests to its controller over
# the loopback-only PLAINTEXT controller listener (KRaft's controller listener does not take SCRAM).
super.users=User:{ADMIN};User:ANONYMOUS
log.dirs={self.home / "data"}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
""",
            encoding="utf-8",
        )
        return conf

    def _java(self, *args: str) -> list[str]:
        # C1 only and the serial collector: a JVM that starts fast and runs a few minutes at most.
        flags = ["-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]
        return ["java", *flags, "-cp", f"{self.libs}/*", *args]

    async def start(self) -> None:
        conf = self._config()
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        scram: list[str] = []
        for name, password in self.users.items():  # SCRAM users are created with the storage
            scram += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        # "--cluster-id=": an id may begin with "-", which would read as an option.
        storage_tool = self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(conf))
        await _run([*storage_tool, *scram])
        with (self.home / "broker.log").open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self._java("kafka.Kafka", str(conf)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run reaches it only through the atexit below
            )
        atexit.register(_terminate, self.process.pid, str(self.home))
        await self._wait_ready()

    async def _wait_ready(self, seconds: float = 180.0) -> None:
        deadline = time.monotonic() + seconds
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            assert self.process.returncode is None, f"the broker exited: {self._log_tail()}"
            admin = AIOKafkaAdminClient(**self.client_options(ADMIN), request_timeout_ms=5000)
            try:
                await admin.start()
                await admin.list_topics()
                return
            except Exception as exc:  # not up yet: connection refused, authentication not ready
                last = exc
            finally:
                await admin.close()
            await asyncio.sleep(0.5)
        raise AssertionError(f"secure broker not ready in {seconds:.0f}s: {last!r}\n{self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.home / "broker.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    async def set_acls(self, bindings: Iterable[str]) -> None:
        """Create ``bindings`` (see SetAcls.java) in one Admin call, as the admin."""
        await _run(self._java(str(SET_ACLS), self.bootstrap, ADMIN, self.users[ADMIN], *bindings))

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def _run(command: list[str]) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, f"{command[-1]} failed: {output.decode(errors='replace')[-3000:]}"


@contextlib.asynccontextmanager
async def secure_broker(users: Iterable[str]) -> AsyncIterator[SecureBroker]:
    """A SASL/SCRAM + ACL broker with SCRAM users ``users`` (random passwords) and a super user ``admin``."""
    libs = kafka_libs()
    with tempfile.TemporaryDirectory(prefix="cityloop-secure-kafka-") as home:
        port, controller_port = free_ports(2)
        passwords = {name: uuid.uuid4().hex for name in (ADMIN, *users)}
        broker = SecureBroker(Path(home), port, controller_port, passwords, libs)
        try:
            await broker.start()
            yield broker
        finally:
            await broker.stop()
