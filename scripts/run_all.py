"""`make run`: start the four services and feedback's stream worker as separate processes, say where
everything is, restart one that dies (scripts/supervisor.py), stop them all on Ctrl-C."""

import os
import signal
import sys
import time

from scripts import local_secrets
from scripts.supervisor import Supervisor

from cityloop.common.logging import configure_logging
from cityloop.intake.demo import usage as demo_usage
from cityloop.intake.settings import IntakeSettings

SERVICES = [
    ("intake", "cityloop.intake", 8000),
    ("router", "cityloop.router", 8001),
    ("sla", "cityloop.sla", 8002),
    ("feedback", "cityloop.feedback", 8003),
    # feedback's stream worker (faust): hot spots and surge proposals; /metrics on its own port
    ("signals", "cityloop.feedback.signals", 8004),
]


def _port(name: str, default: int) -> int:
    # Each service reads CITYLOOP_<NAME>_HTTP_PORT itself; the banner says the same (make bench runs a stack
    # on ports of its own, tests/bench/stack.py).
    return int(os.environ.get(f"CITYLOOP_{name.upper()}_HTTP_PORT", default))


def main() -> int:
    # Random local secrets (generated once into .local/secrets.env), never the published defaults; a value
    # set in the environment explicitly still wins.
    os.environ.update(local_secrets.effective())
    env = {**os.environ, "CITYLOOP_LOG_JSON": os.environ.get("CITYLOOP_LOG_JSON", "false")}
    configure_logging("run", json=env["CITYLOOP_LOG_JSON"] == "true")
    supervisor = Supervisor({name: [sys.executable, "-m", module] for name, module, _ in SERVICES}, env)
    supervisor.start()
    gateway = f"http://127.0.0.1:{_port('intake', 8000)}"
    print(
        "\nCityLoop is starting.\n"
        f"  API gateway:  {gateway}/api/v1   docs: {gateway}/docs   OpenAPI: {gateway}/openapi.json\n"
        + "".join(f"  {name:<9} metrics: http://127.0.0.1:{_port(name, port)}/metrics\n" for name, _, port in SERVICES)
        + "  Kafka: 127.0.0.1:9092   PostgreSQL: 127.0.0.1:55432 (database cityloop)\n"
        "Ctrl-C stops the services (Kafka and PostgreSQL keep running; `make down` stops them).\n",
        flush=True,
    )
    if IntakeSettings().demo_enabled:  # development settings only; production refuses demo accounts
        print(demo_usage(), flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        supervisor.tick()
        time.sleep(0.5)
    supervisor.stop()
    print("CityLoop services stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
