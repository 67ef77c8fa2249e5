"""Intake: where a citizen's words become a ticket, and the operators' API gateway."""
