"""Emergency mode (平战结合): declare, route under it, re-home open tickets, stand down; surge proposals.

rules.py (pure decisions), store.py (SQL), flows.py (transactions and events), rehoming.py (the bulk
switch of open tickets), views.py (HTTP), metrics.py.
"""
