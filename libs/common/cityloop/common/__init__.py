"""Shared plumbing for every CityLoop service: settings, the event envelope and contract, topics,
Kafka and Postgres helpers, the outbox/inbox pair, ops endpoints and logging. Nothing service-specific."""
