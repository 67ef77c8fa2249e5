"""``make observe``'s helpers (scripts/infra/prometheus.sh)."""
