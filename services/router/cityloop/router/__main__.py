"""``python -m cityloop.router``."""

from cityloop.common.serve import serve
from cityloop.router.app import create_app
from cityloop.router.settings import RouterSettings

if __name__ == "__main__":
    serve(RouterSettings(), create_app)
