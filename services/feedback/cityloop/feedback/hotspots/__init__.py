"""Hot spots (热点): where tickets of one category pile up, and which are rising fastest.

Counted by feedback's stream worker (``cityloop.feedback.signals``), published on ``feedback.hotspots``;
this package keeps them in feedback's own tables (``store.py``, fed by ``feed.py``), serves
``GET /api/v1/hotspots`` (``api.py``) and exports bounded Prometheus gauges (``metrics.py``)."""
