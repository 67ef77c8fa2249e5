"""重办: a failed callback puts the lead's resolved assignment back in its hands (and the case's)."""
