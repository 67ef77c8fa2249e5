"""``python -m cityloop.sla``."""

from cityloop.common.serve import serve
from cityloop.sla.app import create_app
from cityloop.sla.settings import SlaSettings

if __name__ == "__main__":
    serve(SlaSettings(), create_app)
