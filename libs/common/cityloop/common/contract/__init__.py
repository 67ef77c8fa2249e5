"""The promises outside systems rely on (published in docs/contract/): every event type, its ``data`` model and its
topic (registry.py), one way to build events (emitter.py) and one way to read them (parsing.py)."""
