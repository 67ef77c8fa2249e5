"""CityLoop's cross-cutting Prometheus metrics (README "Metrics"): HTTP, events, outbox backlog, lag.

Names follow one rule: the ``cityloop_`` prefix, base units (seconds), ``_total`` on counters, histograms
for latency, and only labels whose values are bounded (route templates, topic families, event types from
the contract, reason classes) — never a ticket id or anything a citizen typed.
"""
