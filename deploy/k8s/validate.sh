#!/usr/bin/env bash
# Render every overlay of deploy/k8s with kustomize and validate every object:
#   - core kinds against the Kubernetes OpenAPI schemas (kubernetes-validate, strict),
#   - Strimzi, CloudNativePG, Barman Cloud plugin and Prometheus Operator kinds against the real CRD schemas
#     of pinned releases (jsonschema, strict),
#   - cross-references and agreement with the code (tools/check_manifests.py), with negative controls,
#   - PrometheusRule expressions and alert unit tests with promtool (Debian's prometheus package, installed
#     by scripts/infra/prometheus.sh if missing).
# Everything it needs comes from package registries (Go module proxy, Maven Central, PyPI) at pinned versions
# and is cached under $CITYLOOP_K8S_CACHE (default ~/.cache/cityloop/k8s); a second run needs no network.
#
# Needs: go, python3 (3.11), mvn and a Java >= 21 (Strimzi's API jars are Java 21 class files; a JDK under
# /usr/lib/jvm is found automatically, or set STRIMZI_JAVA).
#
# `validate.sh --render DIR` only renders: DIR/<overlay>.yaml for each overlay (kustomize built if needed);
# tests/unit/test_manifests_env.py uses it.
set -euo pipefail

RENDER_ONLY=""
if [[ "${1:-}" == "--render" ]]; then
    RENDER_ONLY="${2:?usage: validate.sh --render DIR}"
fi

KUSTOMIZE_VERSION=v5.8.1
K8S_VERSION=1.33.0                     # the Kubernetes release the manifests are validated against
STRIMZI_VERSION=1.2.0                  # io.strimzi:api + crd-generator (kafka.strimzi.io/v1, since Strimzi 0.49)
CNPG_VERSION=v1.28.1                   # github.com/cloudnative-pg/cloudnative-pg config/crd
BARMAN_PLUGIN_VERSION=v0.15.0          # github.com/cloudnative-pg/plugin-barman-cloud config/crd
PROMETHEUS_OPERATOR_VERSION=v0.85.0    # github.com/prometheus-operator/prometheus-operator example/prometheus-operator-crd

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TOOLS="$HERE/tools"
CACHE="${CITYLOOP_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cityloop/k8s}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
# Go's caches live in ours, writable, so that `rm -rf "$CACHE"` is a true cold start.
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOFLAGS=-modcacherw GOTOOLCHAIN=local
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

t0=$SECONDS
step() { printf '==> %s (%ss)\n' "$*" "$((SECONDS - t0))"; }
die() { printf 'validate.sh: %s\n' "$*" >&2; exit 1; }
for tool in go python3 mvn; do command -v "$tool" >/dev/null || die "$tool is needed"; done

# --- tools -------------------------------------------------------------------------------------------
KUSTOMIZE="$BIN/kustomize-$KUSTOMIZE_VERSION"
if [[ ! -x "$KUSTOMIZE" ]]; then
    step "building kustomize $KUSTOMIZE_VERSION"
    GOBIN="$WORK/gobin" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    mv "$WORK/gobin/kustomize" "$KUSTOMIZE"
fi

if [[ -n "$RENDER_ONLY" ]]; then
    mkdir -p "$RENDER_ONLY"
    for overlay in "$HERE"/overlays/*/; do
        "$KUSTOMIZE" build "$overlay" > "$RENDER_ONLY/$(basename "$overlay").yaml"
    done
    exit 0
fi

VENV="$CACHE/venv-$(sha256sum "$TOOLS/requirements.txt" | cut -c1-12)"
if [[ ! -x "$VENV/bin/python" ]]; then
    step "python tools ($(basename "$VENV"))"
    python3 -m venv "$VENV.tmp"
    "$VENV.tmp/bin/pip" install -q --disable-pip-version-check --no-deps -r "$TOOLS/requirements.txt"
    mv "$VENV.tmp" "$VENV"
fi

# promtool from Debian's prometheus package, installed once by the project's set-up script.
"$REPO/scripts/infra/prometheus.sh" install
PROMTOOL="$(command -v promtool)"

# --- CRD schemas -------------------------------------------------------------------------------------
CRDS="$CACHE/crds/strimzi-$STRIMZI_VERSION+cnpg-$CNPG_VERSION+barman-$BARMAN_PLUGIN_VERSION+pomon-$PROMETHEUS_OPERATOR_VERSION"
if [[ ! -d "$CRDS" ]]; then
    step "fetching CRDs"
    mkdir -p "$WORK/crds"
    modules=(
        "github.com/cloudnative-pg/cloudnative-pg@$CNPG_VERSION"
        "github.com/cloudnative-pg/plugin-barman-cloud@$BARMAN_PLUGIN_VERSION"
        "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
    )
    go mod download "${modules[@]}"
    cnpg="$(go mod download -json "${modules[0]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    barman="$(go mod download -json "${modules[1]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    pomon="$(go mod download -json "${modules[2]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    cp "$cnpg"/config/crd/bases/postgresql.cnpg.io_{clusters,scheduledbackups}.yaml "$WORK/crds/"
    cp "$barman"/config/crd/bases/barmancloud.cnpg.io_objectstores.yaml "$WORK/crds/"
    cp "$pomon"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml "$WORK/crds/"

    # Strimzi publishes no CRD YAML to a registry we reach; its Maven artifacts carry the API model and the
    # generator its own build runs to write the CRDs, so run that, for the v1 API.
    java="${STRIMZI_JAVA:-}"
    if [[ -z "$java" ]]; then
        for candidate in "${JAVA_HOME:-}/bin/java" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
            [[ -x "$candidate" ]] || continue
            major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
            if [[ "${major%%.*}" -ge 21 ]]; then java="$candidate"; break; fi
        done
    fi
    [[ -n "$java" ]] || die "Strimzi $STRIMZI_VERSION's CRD generator needs Java >= 21 (set STRIMZI_JAVA)"
    mkdir -p "$WORK/strimzi"
    sed "s/STRIMZI_VERSION/$STRIMZI_VERSION/" "$TOOLS/strimzi-crds.pom.xml" > "$WORK/strimzi/pom.xml"
    mvn -B -q -Dstyle.color=never -f "$WORK/strimzi/pom.xml" -Dmaven.repo.local="$CACHE/m2" \
        dependency:build-classpath -Dmdep.outputFile="$WORK/strimzi/classpath.txt"
    "$java" -cp "$(cat "$WORK/strimzi/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
        --yaml --crd-api-version v1 --api-versions v1 --storage-version v1 \
        "io.strimzi.api.kafka.model.kafka.Kafka=$WORK/crds/kafka.strimzi.io_kafkas.yaml" \
        "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$WORK/crds/kafka.strimzi.io_kafkanodepools.yaml" \
        "io.strimzi.api.kafka.model.topic.KafkaTopic=$WORK/crds/kafka.strimzi.io_kafkatopics.yaml" \
        "io.strimzi.api.kafka.model.user.KafkaUser=$WORK/crds/kafka.strimzi.io_kafkausers.yaml"
    mkdir -p "$(dirname "$CRDS")"
    mv "$WORK/crds" "$CRDS"
fi

# --- render and check --------------------------------------------------------------------------------
status=0
departments="$HERE/departments/kafka-users.yaml"   # the departments' KafkaUsers (tools/dept_users.py)
for overlay in "$HERE"/overlays/*/; do
    env="$(basename "$overlay")"
    step "$env: kustomize build"
    "$KUSTOMIZE" build "$overlay" > "$WORK/$env.yaml"
    step "$env: schemas (Kubernetes $K8S_VERSION, CRDs) and cross-checks"
    "$VENV/bin/python" "$TOOLS/check_manifests.py" --env "$env" --rendered "$WORK/$env.yaml" --crds "$CRDS" \
        --repo "$REPO" --k8s-version "$K8S_VERSION" --rules-out "$WORK/rules.yaml" \
        ${departments:+--departments "$departments"} || status=1
    departments=""  # the same in every environment (applied next to the overlay): checked once
    step "$env: promtool check rules + alert unit tests ($("$PROMTOOL" --version 2>&1 | head -1))"
    "$PROMTOOL" check rules "$WORK/rules.yaml" || status=1
    sed "s/NAMESPACE/cityloop-$env/g" "$TOOLS/alerts_test.yaml" > "$WORK/alerts_test.yaml"
    "$PROMTOOL" test rules "$WORK/alerts_test.yaml" || status=1
done
step "done: $([[ $status == 0 ]] && echo OK || echo FAILED)"
exit "$status"
