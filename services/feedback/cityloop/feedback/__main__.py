"""``python -m cityloop.feedback``."""

from cityloop.common.serve import serve
from cityloop.feedback.app import create_app
from cityloop.feedback.settings import FeedbackSettings

if __name__ == "__main__":
    serve(FeedbackSettings(), create_app)
