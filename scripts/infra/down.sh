#!/usr/bin/env bash
# Stop the local infrastructure this checkout started (Kafka, then PostgreSQL). Servers started by
# another checkout are left alone. Data is kept; rm -rf "$CITYLOOP_HOME" (default <repo>/.local) wipes it.
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

rc=0
"$script_dir/kafka.sh" stop || rc=1
"$script_dir/postgres.sh" stop || rc=1
exit "$rc"
