"""``python -m cityloop.intake``: serve the gateway and intake."""

from cityloop.common.serve import serve
from cityloop.intake.app import create_app
from cityloop.intake.settings import IntakeSettings

if __name__ == "__main__":
    serve(IntakeSettings(), create_app)
