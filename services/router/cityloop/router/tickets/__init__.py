"""Router's copy of each ticket and its assignments, read back as domain values."""
