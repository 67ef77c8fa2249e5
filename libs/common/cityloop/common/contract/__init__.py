"""The promises outside systems rely on (contract.md): event types and their data, defined once."""
