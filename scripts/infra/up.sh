#!/usr/bin/env bash
# Start the local infrastructure (PostgreSQL, then Kafka), reusing whatever already answers on the ports.
# Same environment as postgres.sh and kafka.sh (CITYLOOP_HOME, PGPORT, KAFKA_PORT, KAFKA_VERSION, ...).
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$script_dir/postgres.sh" start
"$script_dir/kafka.sh" start
printf 'up: postgres  postgresql://cityloop_owner@127.0.0.1:%s/cityloop\n' "${PGPORT:-55432}"
printf 'up: kafka     127.0.0.1:%s\n' "${KAFKA_PORT:-9092}"
