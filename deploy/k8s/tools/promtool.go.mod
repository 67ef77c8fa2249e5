// Builds promtool (Prometheus's rule checker) from the Go module proxy. `go install ...@version` refuses
// the prometheus module because its go.mod has a replace directive, so validate.sh copies this file into
// its cache as go.mod and runs `go get` + `go build`; the replace/exclude lines repeat prometheus's own.
// PROMETHEUS_VERSION is substituted by validate.sh.
module cityloop.local/promtool

go 1.25

require github.com/prometheus/prometheus PROMETHEUS_VERSION

replace cloud.google.com/go => cloud.google.com/go v0.123.0

exclude (
	github.com/grpc-ecosystem/grpc-gateway v1.14.7
	github.com/linode/linodego v1.0.0
	google.golang.org/api v0.30.0
)
