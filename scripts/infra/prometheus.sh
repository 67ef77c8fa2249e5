#!/usr/bin/env bash
# Prometheus and promtool from Debian's `prometheus` package, for the alert tests (deploy/k8s/validate.sh)
# and `make observe` (a local Prometheus scraping the running services with the production rules).
#
#   scripts/infra/prometheus.sh install   apt-get install prometheus, once (no-op when promtool is there)
#   scripts/infra/prometheus.sh start     write the config, start Prometheus on 127.0.0.1:$PROMETHEUS_PORT
#   scripts/infra/prometheus.sh stop      stop the Prometheus this checkout started
#   scripts/infra/prometheus.sh status    exit 0 if it answers, 3 if not
#
# The package's own service (prometheus.service, port 9090) plays no part: this Prometheus has its own
# port, config and data under $CITYLOOP_HOME/prometheus, and runs as a plain process (no systemd needed).
#
# Environment (defaults in brackets):
#   CITYLOOP_HOME [<repo>/.local]     config, data, log and pid file in $CITYLOOP_HOME/prometheus
#   PROMETHEUS_PORT [9095]            PROMETHEUS_SCRAPE_INTERVAL [5s]
#   CITYLOOP_OBSERVE_TARGETS [127.0.0.1:8000 127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003 127.0.0.1:8004]
#       host:port of each process's /metrics (README "Two commands"); the job label is the Kubernetes
#       Service's name, in the order intake router sla feedback feedback-signals, as the alerts expect
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$script_dir/../.." && pwd)"
CITYLOOP_HOME="${CITYLOOP_HOME:-$repo_root/.local}"
PROMETHEUS_PORT="${PROMETHEUS_PORT:-9095}"
PROMETHEUS_SCRAPE_INTERVAL="${PROMETHEUS_SCRAPE_INTERVAL:-5s}"
CITYLOOP_OBSERVE_TARGETS="${CITYLOOP_OBSERVE_TARGETS:-127.0.0.1:8000 127.0.0.1:8001 127.0.0.1:8002 127.0.0.1:8003 127.0.0.1:8004}"
dir="$CITYLOOP_HOME/prometheus"
pidfile="$dir/prometheus.pid"

say() { printf 'prometheus: %s\n' "$*"; }
die() { printf 'prometheus: ERROR: %s\n' "$*" >&2; exit 1; }

install() {
    if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
        return 0
    fi
    say "installing Debian's prometheus package (promtool, prometheus)"
    local sudo=""
    [[ $EUID -eq 0 ]] || sudo="sudo"
    # No recommends: the node exporter and friends are not needed. Whether the package's service starts
    # (policy-rc.d, systemd) does not matter: ours runs apart from it.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null \
        || { $sudo apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
                $sudo apt-get install -y -q --no-install-recommends prometheus >/dev/null; }
    command -v promtool >/dev/null || die "promtool missing after installing the prometheus package"
}

answers() { curl -fsS -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" 2>/dev/null; }

write_config() {
    mkdir -p "$dir/data"
    printf '*\n' > "$CITYLOOP_HOME/.gitignore" 2>/dev/null || true
    # The production rules, taken from the PrometheusRule (deploy/k8s/base/monitoring/prometheusrule.yaml).
    (cd "$repo_root" && "$repo_root/.venv/bin/python" -m scripts.observe.rules "$dir/rules.yaml")
    local jobs=(intake router sla feedback feedback-signals) i=0
    {
        printf 'global:\n  scrape_interval: %s\n  evaluation_interval: %s\n' \
            "$PROMETHEUS_SCRAPE_INTERVAL" "$PROMETHEUS_SCRAPE_INTERVAL"
        printf 'rule_files: [%s]\nscrape_configs:\n' "$dir/rules.yaml"
        for target in $CITYLOOP_OBSERVE_TARGETS; do
            printf '  - job_name: "%s-%s"\n    static_configs:\n      - targets: ["%s"]\n' \
                "${jobs[$i]:-cityloop}" "$i" "$target"
            printf '    relabel_configs:\n      - target_label: job\n        replacement: "%s"\n' "${jobs[$i]:-cityloop}"
            printf '      - target_label: namespace\n        replacement: local\n'
            i=$((i + 1))
        done
    } > "$dir/prometheus.yml"
    promtool check config "$dir/prometheus.yml" >/dev/null
}

start() {
    install
    if answers; then
        say "already answering on http://127.0.0.1:$PROMETHEUS_PORT"
        return 0
    fi
    write_config
    nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" --web.enable-lifecycle \
        > "$dir/prometheus.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 60); do
        answers && { say "http://127.0.0.1:$PROMETHEUS_PORT (scraping: $CITYLOOP_OBSERVE_TARGETS)"; return 0; }
        kill -0 "$(cat "$pidfile")" 2>/dev/null || die "exited; see $dir/prometheus.log"
        sleep 0.5
    done
    die "not ready after 30 s; see $dir/prometheus.log"
}

stop() {
    [[ -f $pidfile ]] || { say "not started by this checkout"; return 0; }
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    rm -f "$pidfile"
    say "stopped"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) if answers; then say "http://127.0.0.1:$PROMETHEUS_PORT"; else exit 3; fi ;;
    *) die "usage: $0 {install|start|stop|status}" ;;
esac
