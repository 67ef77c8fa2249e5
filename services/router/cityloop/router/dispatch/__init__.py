"""Automatic dispatch of a new ticket: classify it, locate it, route it (rules.py), carry the decision out."""
