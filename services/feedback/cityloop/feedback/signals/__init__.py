"""Feedback's stream worker (faust-streaming), its own process: ``python -m cityloop.feedback.signals``.

It counts dispatched tickets per category and area over time windows, in faust tables recovered from
their changelogs after a restart, and turns those counts into two signals: hot spots (served by feedback's
``GET /api/v1/hotspots``) and surge proposals (``cityloop.mode.emergency_proposed`` on ``control.mode``).
Pure rules: ``sightings.py`` (which events count), ``buckets.py`` (time buckets, hot-spot counts),
``surges.py`` (surge detection). Faust wiring: ``app.py``, ``topics.py``, ``tables.py``, ``agents.py``,
``timers.py``, ``web.py``.
"""
