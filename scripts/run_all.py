"""`make run`: start the four services and feedback's stream worker as separate processes, say where
everything is, stop on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time

from scripts import local_secrets

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


def main() -> int:
    # Random local secrets (generated once into .local/secrets.env), never the published defaults; a value
    # set in the environment explicitly still wins.
    local = local_secrets.ensure(local_secrets.secrets_file())
    os.environ.update({name: value for name, value in local.items() if name not in os.environ})
    env = {**os.environ, "CITYLOOP_LOG_JSON": os.environ.get("CITYLOOP_LOG_JSON", "false")}
    procs = {name: subprocess.Popen([sys.executable, "-m", module], env=env) for name, module, _ in SERVICES}
    print(
        "\nCityLoop is starting.\n"
        "  API gateway:  http://127.0.0.1:8000/api/v1   docs: http://127.0.0.1:8000/docs"
        "   OpenAPI: http://127.0.0.1:8000/openapi.json\n"
        + "".join(f"  {name:<9} metrics: http://127.0.0.1:{port}/metrics\n" for name, _, port in SERVICES)
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
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping the others", file=sys.stderr)
                exit_code, stopping = 1, True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            proc.kill()
    print("CityLoop services stopped.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
