"""Validate rendered CityLoop manifests: schemas, then the cross-references a schema cannot see.

Usage: check_manifests.py --env production --rendered out.yaml --crds DIR --repo ROOT --k8s-version 1.33.0
       [--rules-out rules.yaml]

1. Core kinds against the Kubernetes OpenAPI schemas bundled in kubernetes-validate, strict (unknown fields
   are errors, as `kubectl apply --validate=strict` makes them).
2. Custom resources against the openAPIV3Schema of the CRD for their group/version/kind, found in --crds
   (Strimzi, CloudNativePG, Barman Cloud plugin, Prometheus Operator), made strict the same way the API
   server's field validation is: an object schema that lists properties and does not preserve unknown
   fields rejects others. CEL rules (x-kubernetes-validations) are not evaluated.
3. Cross-checks against each other and against the code (topics, consumer groups, ports, metric names).

Every problem is printed; the exit status is 1 if there was any.
"""

import argparse
import ast
import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from dept_users import acls as dept_acls
from dept_users import department_codes, user_name

SERVICES = ("intake", "router", "sla", "feedback")
# Worker Deployments that belong to a service (same image, same KafkaUser) but run their own entry point:
# name -> (service, module, settings file, env prefix of the settings).
WORKERS = {
    "feedback-signals": (
        "feedback",
        "cityloop.feedback.signals",
        "services/feedback/cityloop/feedback/signals/settings.py",
        "SIGNALS",
    ),
}
COMPONENT = "app.kubernetes.io/component"
RECOMMENDED_LABELS = tuple(
    f"app.kubernetes.io/{k}" for k in ("name", "instance", "component", "part-of", "version", "managed-by")
)
CORE_GROUPS = {"", "apps", "policy", "autoscaling", "networking.k8s.io", "batch", "rbac.authorization.k8s.io"}
# Secrets the manifests use but do not contain: made by an operator from a resource here (checked below),
# or created out of band (README, "Secrets").
EXTERNAL_SECRETS = {
    "cityloop-internal",
    "cityloop-intake-jwt",
    "cityloop-intake-vault",
    "cityloop-backup-s3",
    "cityloop-api-tls",
} | {f"cityloop-db-{svc}" for svc in ("intake", "router", "sla", "feedback")}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

Obj = dict[str, Any]


def env_ref(container: Obj, name: str) -> Obj | None:
    """The secretKeyRef an env var of ``container`` reads, if any."""
    for v in container.get("env", []):
        if v["name"] == name:
            ref: Obj | None = v.get("valueFrom", {}).get("secretKeyRef")
            return ref
    return None


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def expect(self, ok: bool, where: str, what: str) -> None:
        self.checked += 1
        if not ok:
            self.fail(where, what)


def ident(o: Obj) -> str:
    return f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"


def group_version(o: Obj) -> tuple[str, str]:
    api = o["apiVersion"]
    return tuple(api.split("/", 1)) if "/" in api else ("", api)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- schemas


def strictify(schema: Any) -> Any:
    """additionalProperties: false wherever the API server would prune (and strict validation reject)."""
    if isinstance(schema, dict):
        out = {k: strictify(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strictify(v) for v in schema]
    return schema


def load_crds(folder: Path) -> dict[tuple[str, str, str], Obj]:
    index: dict[tuple[str, str, str], Obj] = {}
    for path in sorted(folder.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for version in spec["versions"]:
                if not version.get("served", True):
                    continue
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                # ObjectMeta is checked by the API server itself, not by the CRD schema; see check_meta.
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                index[(spec["group"], version["name"], spec["names"]["kind"])] = strictify(schema)
    return index


def check_meta(o: Obj, r: Report) -> None:
    meta = o.get("metadata", {})
    name = meta.get("name", "")
    r.expect(bool(DNS1123_SUBDOMAIN.match(name)) and len(name) <= 253, ident(o), f"bad name {name!r}")
    for k, v in (meta.get("labels") or {}).items():
        r.expect(isinstance(v, str) and len(v) <= 63 and bool(LABEL_VALUE.match(v)), ident(o), f"label {k}={v!r}")


_VALIDATORS: dict[int, jsonschema.Draft7Validator] = {}


def _validator(schema: Obj) -> jsonschema.Draft7Validator:
    # One per CRD schema, not per object: building it is most of the cost of a small object's check.
    if id(schema) not in _VALIDATORS:
        _VALIDATORS[id(schema)] = jsonschema.Draft7Validator(schema)
    return _VALIDATORS[id(schema)]


def check_schema(o: Obj, crds: dict[tuple[str, str, str], Obj], k8s: str, r: Report) -> str:
    group, version = group_version(o)
    check_meta(o, r)
    if group in CORE_GROUPS:
        r.checked += 1
        try:
            kubernetes_validate.validate(o, k8s, strict=True)
        except kubernetes_validate.ValidationError as e:
            r.fail(ident(o), f"{'/'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            r.fail(ident(o), f"no Kubernetes {k8s} schema for {o['apiVersion']} {o['kind']}")
        return "kubernetes"
    schema = crds.get((group, version, o["kind"]))
    if schema is None:
        r.fail(ident(o), f"no CRD schema for {o['apiVersion']} {o['kind']} (not validated)")
        return "missing"
    r.checked += 1
    validator = _validator(schema)
    for err in sorted(validator.iter_errors(o), key=lambda e: list(map(str, e.path))):
        r.fail(ident(o), f"{'/'.join(map(str, err.path))}: {err.message}")
    return "crd"


# ------------------------------------------------------------------------------------- facts from the code


def code_facts(repo: Path) -> dict[str, Any]:
    topics_py = (repo / "libs/common/cityloop/common/topics.py").read_text(encoding="utf-8")
    specs: dict[str, tuple[str, int, dict[str, str]]] = {}
    for node in ast.walk(ast.parse(topics_py)):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "TopicSpec"
        ):
            call = node.value
            name = call.args[0].value  # type: ignore[attr-defined]
            kw = {k.arg: k.value for k in call.keywords}
            parts = kw["partitions"].value if "partitions" in kw else 6  # type: ignore[attr-defined]
            config = {}
            if isinstance(kw.get("config"), ast.Dict):
                for k, v in zip(kw["config"].keys, kw["config"].values, strict=True):  # type: ignore[attr-defined]
                    if isinstance(v, ast.Constant):
                        config[k.value] = v.value  # type: ignore[union-attr]
            specs[node.targets[0].id] = (name, parts, config)  # type: ignore[attr-defined]
    static = re.search(r"STATIC_TOPICS[^=]*=\s*\(([^)]*)\)", topics_py)
    assert static, "STATIC_TOPICS not found in topics.py"
    static_vars = [v.strip() for v in static.group(1).split(",") if v.strip()]
    topics = {specs[v][0]: specs[v] for v in static_vars}
    for v in static_vars:  # all_topics(): a DLQ (1 partition) for each static topic
        topics[f"{specs[v][0]}.dlq"] = (f"{specs[v][0]}.dlq", 1, {})
    consumers: dict[str, list[tuple[str, list[str]]]] = {}
    ports: dict[str, int] = {}
    for svc in SERVICES:
        app = (repo / f"services/{svc}/cityloop/{svc}/app.py").read_text(encoding="utf-8")
        for name, topic_vars in re.findall(r'runtime\.consume\(\s*"([^"]+)",\s*\[([^\]]*)\]', app):
            names = [specs[t.strip().removesuffix(".name")][0] for t in topic_vars.split(",") if t.strip()]
            consumers.setdefault(svc, []).append((name, names))
        # Pattern consumers (router's dept-updates): their group; the topics are checked by name below.
        for name in re.findall(r'runtime\.consume_sourced\(\s*"([^"]+)"', app):
            consumers.setdefault(svc, []).append((name, []))
        settings = (repo / f"services/{svc}/cityloop/{svc}/settings.py").read_text(encoding="utf-8")
        port = re.search(r"http_port:\s*int\s*=\s*(\d+)", settings)
        assert port, f"no http_port in services/{svc}/settings.py"
        ports[svc] = int(port.group(1))
    for name, (_, _, settings_file, _) in WORKERS.items():
        port = re.search(r"http_port:\s*int\s*=\s*(\d+)", (repo / settings_file).read_text(encoding="utf-8"))
        assert port, f"no http_port in {settings_file}"
        ports[name] = int(port.group(1))
    signals_app = (repo / "services/feedback/cityloop/feedback/signals/app.py").read_text(encoding="utf-8")
    app_id = re.search(r'^APP_ID\s*=\s*"([^"]+)"', signals_app, re.MULTILINE)
    assert app_id, "no APP_ID in services/feedback/cityloop/feedback/signals/app.py"
    metrics: set[str] = set()
    for path in list((repo / "libs").rglob("*.py")) + list((repo / "services").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for kind, name in re.findall(r'\b(Counter|Gauge|Histogram|Summary)\(\s*"(cityloop_[a-z0-9_]+)"', text):
            if kind == "Counter":
                metrics.add(name if name.endswith("_total") else f"{name}_total")
            elif kind in ("Histogram", "Summary"):
                metrics.update({f"{name}_bucket", f"{name}_sum", f"{name}_count", name})
            else:
                metrics.add(name)
    return {
        "topics": topics,
        "consumers": consumers,
        "ports": ports,
        "metrics": metrics,
        "signals_app": app_id.group(1),
        "departments": department_codes(repo / "services/router/cityloop/router/data/city/departments.csv"),
    }


# ------------------------------------------------------------------------------------------- cross-checks


def by_kind(objs: list[Obj], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        val = labels.get(e["key"])
        op = e["operator"]
        if (op == "In" and val not in e["values"]) or (op == "NotIn" and val in e["values"]):
            return False
        if (op == "Exists" and val is None) or (op == "DoesNotExist" and val is not None):
            return False
    return True


IMPLIED = {  # Kafka: an ACL for the key operation also allows these
    "Read": {"Describe"},
    "Write": {"Describe"},
    "Delete": {"Describe"},
    "Alter": {"Describe"},
    "AlterConfigs": {"DescribeConfigs"},
}


def kafka_allows(user: Obj, rtype: str, name: str, op: str) -> bool:
    # As Kafka's StandardAuthorizer: a deny rule matches its own operation (or All) only; an allow rule
    # for Read/Write/Delete/Alter also allows Describe, AlterConfigs also DescribeConfigs.
    def matches(acl: Obj, implied: bool) -> bool:
        res = acl["resource"]
        if res["type"] != rtype:
            return False
        if rtype != "cluster":
            pattern = res.get("patternType", "literal")
            rname = res.get("name", "")
            if not (rname == "*" or (name == rname if pattern == "literal" else name.startswith(rname))):
                return False
        ops = set(acl["operations"])
        return op in ops or "All" in ops or (implied and any(op in IMPLIED.get(o, ()) for o in ops))

    acls = user["spec"]["authorization"]["acls"]
    if any(matches(a, implied=False) for a in acls if a.get("type") == "deny"):
        return False
    return any(matches(a, implied=True) for a in acls if a.get("type", "allow") == "allow")


def env_of(container: Obj, configmaps: dict[str, Obj]) -> dict[str, str]:
    env: dict[str, str] = {}
    for src in container.get("envFrom", []):
        cm = configmaps.get(src.get("configMapRef", {}).get("name", ""))
        if cm:
            env.update(cm.get("data", {}))
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
    return env


def cross_check(objs: list[Obj], facts: dict[str, Any], env: str, r: Report) -> None:  # noqa: PLR0915
    deployments = by_kind(objs, "Deployment")
    services = by_kind(objs, "Service")
    configmaps = by_kind(objs, "ConfigMap")
    secrets_here = set(by_kind(objs, "Secret"))
    kafka = by_kind(objs, "Kafka")
    users = by_kind(objs, "KafkaUser")
    topics = by_kind(objs, "KafkaTopic")
    clusters = by_kind(objs, "Cluster")
    production = env == "production"

    for o in objs:
        labels = o["metadata"].get("labels") or {}
        missing = [k for k in RECOMMENDED_LABELS if k not in labels]
        r.expect(not missing, ident(o), f"missing recommended labels {missing}")
        r.expect(labels.get("app.kubernetes.io/part-of") == "cityloop", ident(o), "part-of is not cityloop")

    # Secrets the operators write, derived from the resources that make them.
    generated = {f"{c}-app" for c in clusters} | set(users) | {f"{k}-cluster-ca-cert" for k in kafka}
    known_secrets = secrets_here | generated | EXTERNAL_SECRETS

    # --- workloads
    expected = {*SERVICES, *WORKERS}
    r.expect(set(deployments) == expected, "Deployments", f"expected {sorted(expected)}, got {sorted(deployments)}")
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind(objs, "HorizontalPodAutoscaler").values()}
    r.expect("intake" in hpas, "HorizontalPodAutoscaler", "intake has no HPA")
    for name, d in deployments.items():
        where = ident(d)
        spec = d["spec"]
        pod = spec["template"]["spec"]
        tlabels = spec["template"]["metadata"]["labels"]
        r.expect(selects(spec["selector"], tlabels), where, "selector does not match its pod template")
        if name in hpas:
            r.expect("replicas" not in spec, where, "replicas set although an HPA owns the count")
            r.expect(hpas[name]["spec"].get("minReplicas", 1) >= 2, where, "HPA minReplicas < 2")
        else:
            r.expect(spec.get("replicas", 1) >= 2, where, "fewer than 2 replicas")
        psc = pod.get("securityContext", {})
        r.expect(pod.get("automountServiceAccountToken") is False, where, "service account token mounted")
        r.expect(bool(pod.get("topologySpreadConstraints")), where, "no topologySpreadConstraints")
        for tsc in pod.get("topologySpreadConstraints", []):
            r.expect(selects(tsc["labelSelector"], tlabels), where, "topology spread selector misses own pods")
        (c,) = pod["containers"]
        sc = c.get("securityContext", {})
        r.expect(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, where, "runAsNonRoot not set")
        r.expect(sc.get("readOnlyRootFilesystem") is True, where, "root filesystem writable")
        r.expect(sc.get("allowPrivilegeEscalation") is False, where, "privilege escalation allowed")
        r.expect(sc.get("capabilities", {}).get("drop") == ["ALL"], where, "capabilities not dropped")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
        r.expect(seccomp.get("type") == "RuntimeDefault", where, "seccomp not RuntimeDefault")
        res = c.get("resources", {})
        r.expect({"cpu", "memory"} <= set(res.get("requests", {})), where, "cpu/memory requests missing")
        r.expect("memory" in res.get("limits", {}), where, "memory limit missing")
        module = WORKERS[name][1] if name in WORKERS else f"cityloop.{name}"
        r.expect(c.get("command") == ["python", "-m", module], where, f"command is not python -m {module}")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        r.expect(ports.get("http") == facts["ports"].get(name), where, f"http port != code default {facts['ports']}")
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", None)):
            get = c.get(probe, {}).get("httpGet", {})
            r.expect(get.get("port") == "http", where, f"{probe} not on port http")
            if path:
                r.expect(get.get("path") == path, where, f"{probe} path is not {path}")
        e = env_of(c, configmaps)
        svc_port_var = f"CITYLOOP_{WORKERS[name][3] if name in WORKERS else name.upper()}_HTTP_PORT"
        r.expect(e.get(svc_port_var) == str(ports.get("http")), where, f"{svc_port_var} != container port")
        r.expect(e.get("CITYLOOP_HTTP_HOST") == "0.0.0.0", where, "CITYLOOP_HTTP_HOST is not 0.0.0.0")
        r.expect(e.get("CITYLOOP_ENVIRONMENT") == "production", where, "CITYLOOP_ENVIRONMENT is not production")
        r.expect(e.get("CITYLOOP_KAFKA_SASL_USERNAME") in users, where, "Kafka user is not a KafkaUser here")
        refs = {
            v["valueFrom"]["secretKeyRef"]["name"] for v in c.get("env", []) if "secretKeyRef" in v.get("valueFrom", {})
        }
        refs |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        # Migrations run first, in an init container of the same image (README "Migrations").
        inits = {i["name"]: i for i in pod.get("initContainers", [])}
        mig = inits.get("migrate", {})
        if name not in WORKERS:  # a worker without a database has nothing to migrate
            r.expect(
                mig.get("command") == ["python", "-m", "cityloop.common.migrate_process", name],
                where,
                "no init container running cityloop.common.migrate_process",
            )
            r.expect(mig.get("image") == c.get("image"), where, "migrate init container runs another image")
        for init in inits.values():
            r.expect(init.get("securityContext") == c.get("securityContext"), where, f"{init['name']} securityContext")
            refs |= {
                v["valueFrom"]["secretKeyRef"]["name"]
                for v in init.get("env", [])
                if "secretKeyRef" in v.get("valueFrom", {})
            }
        for ref in refs:
            r.expect(ref in known_secrets, where, f"Secret {ref} is neither rendered, generated nor documented")
        env_names = {v["name"] for v in c.get("env", [])}
        if name not in WORKERS:  # a worker without a database or an HTTP API needs neither
            r.expect({"CITYLOOP_DATABASE_URL", "CITYLOOP_INTERNAL_SECRET"} <= env_names, where, "secrets not wired")
        else:
            want_user = f"cityloop-{WORKERS[name][0]}"
            r.expect(e.get("CITYLOOP_KAFKA_SASL_USERNAME") == want_user, where, f"Kafka user is not {want_user}")
        # The owner's URI (CNPG app secret) only in the migrate init container; the service connects as its
        # own managed role (libs/common/cityloop/common/db/roles.py) and does not migrate at start.
        owner_uri = {"name": f"{next(iter(clusters), '?')}-app", "key": "uri"}
        for v in mig.get("env", []):
            if v["name"] == "CITYLOOP_DATABASE_URL":
                r.expect(v.get("valueFrom", {}).get("secretKeyRef") == owner_uri, where, "migrate DB URL not CNPG uri")
        if name not in WORKERS:
            own = {"name": f"cityloop-db-{name}", "key": "username"}
            r.expect(env_ref(mig, "CITYLOOP_DB_USER") == own, where, "migrate does not grant to the service's role")
            r.expect(env_ref(c, "CITYLOOP_DB_USER") == own, where, "service does not connect as its own role")
            r.expect(env_ref(c, "CITYLOOP_DB_PASSWORD") == {**own, "key": "password"}, where, "service role password")
            r.expect(e.get("CITYLOOP_MIGRATE_AT_START") == "false", where, "service migrates (as its own role)")
            url = e.get("CITYLOOP_DATABASE_URL") or ""
            r.expect("@" not in url and url.startswith("postgresql://"), where, "service DB URL has credentials")
            roles = {
                role["name"]: role
                for cl in clusters.values()
                for role in cl["spec"].get("managed", {}).get("roles", [])
            }
            # The migrations' owner is the initdb owner, pinned as a managed role without any superpower.
            for cl in clusters.values():
                owner = cl["spec"].get("bootstrap", {}).get("initdb", {}).get("owner")
                pinned = roles.get(owner or "?", {})
                powers = [pinned.get(k) for k in ("login", "superuser", "createdb", "createrole")]
                r.expect(powers == [True, False, False, False], where, f"migration owner {owner} not a plain login")
                r.expect(cl["spec"].get("enableSuperuserAccess") is False, where, "superuser access enabled")
            role = roles.get(f"cityloop_{name}", {})
            r.expect(role.get("login") is True and role.get("superuser") is False, where, "no managed login role")
            r.expect(role.get("passwordSecret") == {"name": own["name"]}, where, "managed role password Secret")
        for src in c.get("envFrom", []):
            cm = src.get("configMapRef", {}).get("name")
            r.expect(cm in configmaps, where, f"ConfigMap {cm} not rendered")
        # The Service that fronts it.
        svc = services.get(name)
        r.expect(svc is not None, where, "no Service of the same name")
        if svc:
            r.expect(selects({"matchLabels": svc["spec"]["selector"]}, tlabels), ident(svc), "selects no pod")
            sp = {p["name"]: p for p in svc["spec"]["ports"]}
            r.expect("http" in sp and sp["http"]["targetPort"] == "http", ident(svc), "no port http -> http")
            r.expect(sp.get("http", {}).get("port") == ports.get("http"), ident(svc), "port differs from container")
            r.expect(svc["spec"].get("type", "ClusterIP") == "ClusterIP", ident(svc), "not ClusterIP")
        pdbs = [p for p in by_kind(objs, "PodDisruptionBudget").values() if selects(p["spec"]["selector"], tlabels)]
        r.expect(len(pdbs) == 1, where, f"{len(pdbs)} PodDisruptionBudgets select it")
        nps = [n for n in by_kind(objs, "NetworkPolicy").values() if selects(n["spec"]["podSelector"], tlabels)]
        r.expect(len(nps) >= 2, where, "not covered by default-deny plus an allow rule")

    # The gateway knows where the others are.
    intake_env = env_of(deployments["intake"]["spec"]["template"]["spec"]["containers"][0], configmaps)
    for svc in ("router", "sla", "feedback"):
        url = intake_env.get(f"CITYLOOP_INTAKE_{svc.upper()}_URL")
        port = services.get(svc, {}).get("spec", {}).get("ports", [{}])[0].get("port")
        r.expect(url == f"http://{svc}:{port}", "ConfigMap intake", f"{svc} URL {url!r} != Service {svc}:{port}")

    # Ingress: the gateway's public paths, nothing else.
    ingresses = list(by_kind(objs, "Ingress").values())
    r.expect(len(ingresses) == 1, "Ingress", "expected exactly one")
    for ing in ingresses:
        paths = {}
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                paths[p["path"]] = p
                b = p["backend"]["service"]
                ok = b["name"] == "intake" and b["port"].get("name") in {
                    x["name"] for x in services["intake"]["spec"]["ports"]
                }
                r.expect(ok, ident(ing), f"{p['path']} does not go to intake:http")
        r.expect(
            set(paths) == {"/api/v1", "/open311/v2", "/docs", "/openapi.json"}, ident(ing), f"paths {sorted(paths)}"
        )

    # NetworkPolicy: router/sla/feedback are not open to the world.
    for svc in ("router", "sla", "feedback"):
        tl = deployments[svc]["spec"]["template"]["metadata"]["labels"]
        for n in by_kind(objs, "NetworkPolicy").values():
            if selects(n["spec"]["podSelector"], tl):
                for rule in n["spec"].get("ingress", []):
                    r.expect(bool(rule.get("from")), ident(n), f"{svc} accepts traffic from anywhere")

    # --- Kafka
    r.expect(len(kafka) == 1, "Kafka", "expected one Kafka cluster")
    kname, k = next(iter(kafka.items()))
    listeners = {li["port"]: li for li in k["spec"]["kafka"]["listeners"]}
    bootstrap = intake_env.get("CITYLOOP_KAFKA_BOOTSTRAP", "")
    host, _, port = bootstrap.partition(":")
    r.expect(host == f"{kname}-kafka-bootstrap", "ConfigMap cityloop-common", f"bootstrap {bootstrap} is not Strimzi's")
    li = listeners.get(int(port or 0))
    r.expect(li is not None, "ConfigMap cityloop-common", f"no listener on port {port}")
    if li:
        auth = li.get("authentication", {}).get("type")
        r.expect(auth == "scram-sha-512" and li["tls"], "Kafka", "listener is not TLS + SCRAM-SHA-512")
        r.expect(intake_env.get("CITYLOOP_KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", "ConfigMap", "protocol not SASL_SSL")
    r.expect(k["spec"]["kafka"].get("authorization", {}).get("type") == "simple", "Kafka", "ACLs not enforced")
    cfg = k["spec"]["kafka"].get("config", {})
    r.expect(cfg.get("auto.create.topics.enable") is False, "Kafka", "auto.create.topics.enable is not false")
    for o in objs:
        if group_version(o)[0] == "kafka.strimzi.io" and o["kind"] != "Kafka":
            r.expect(o["metadata"]["labels"].get("strimzi.io/cluster") == kname, ident(o), "strimzi.io/cluster wrong")
    pools = by_kind(objs, "KafkaNodePool")
    brokers = sum(p["spec"]["replicas"] for p in pools.values() if "broker" in p["spec"]["roles"])
    prefix = intake_env.get("CITYLOOP_TOPIC_PREFIX", "")
    want_replicas, want_isr = (3, 2) if production else (1, 1)
    by_topic = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in topics.values()}
    for logical, (_, parts, config) in facts["topics"].items():
        t = by_topic.get(prefix + logical)
        r.expect(t is not None, "KafkaTopic", f"{prefix + logical} (topics.py) has no KafkaTopic")
        if not t:
            continue
        r.expect(t["spec"]["partitions"] == parts, ident(t), f"partitions {t['spec']['partitions']} != code {parts}")
        r.expect(t["spec"]["replicas"] == want_replicas, ident(t), f"replicas != {want_replicas} for {env}")
        r.expect(t["spec"]["replicas"] <= brokers, ident(t), f"replicas > {brokers} brokers")
        r.expect(
            int(t["spec"]["config"].get("min.insync.replicas", 0)) == want_isr, ident(t), f"min.insync != {want_isr}"
        )
        for key, value in config.items():
            r.expect(str(t["spec"]["config"].get(key)) == str(value), ident(t), f"{key} differs from topics.py")
    r.expect(len(by_topic) == len(facts["topics"]), "KafkaTopic", "KafkaTopics the code does not know")
    r.expect(cfg.get("min.insync.replicas") == want_isr, "Kafka", f"broker min.insync.replicas != {want_isr}")
    r.expect(cfg.get("default.replication.factor") == want_replicas, "Kafka", "default.replication.factor")
    r.expect(brokers == want_replicas, "KafkaNodePool", f"{brokers} brokers, expected {want_replicas}")

    # ACLs: what each service's code does must be allowed, and nothing it must not do.
    for svc in SERVICES:
        user = users.get(f"cityloop-{svc}")
        r.expect(user is not None, "KafkaUser", f"cityloop-{svc} missing")
        if not user:
            continue
        u = ident(user)
        r.expect(kafka_allows(user, "cluster", "kafka-cluster", "IdempotentWrite"), u, "no IdempotentWrite")
        for logical in facts["topics"]:
            r.expect(kafka_allows(user, "topic", prefix + logical, "Describe"), u, f"cannot Describe {logical}")
            r.expect(not kafka_allows(user, "topic", prefix + logical, "Create"), u, f"may Create static {logical}")
        r.expect(kafka_allows(user, "topic", prefix + "ticket.lifecycle", "Write"), u, "outbox cannot Write")
        r.expect(not kafka_allows(user, "topic", prefix + "dept.updates", "Write"), u, "may Write dept.updates")
        for consumer, consumed in facts["consumers"].get(svc, []):
            group = f"{prefix}cityloop.{consumer}"
            r.expect(kafka_allows(user, "group", group, "Read"), u, f"cannot Read group {group}")
            for t in consumed:
                r.expect(kafka_allows(user, "topic", prefix + t, "Read"), u, f"cannot Read {t}")
                r.expect(kafka_allows(user, "topic", prefix + t + ".dlq", "Write"), u, f"cannot Write {t}.dlq")
        # A group of another service is not ours to join.
        for other in SERVICES:
            if other != svc:
                r.expect(
                    not kafka_allows(user, "group", f"{prefix}cityloop.{other}.x", "Read"), u, f"joins {other}'s groups"
                )
    # feedback's stream worker (WORKERS) runs as feedback's KafkaUser: its group, its own topics (which it
    # creates), the lifecycle it reads, the proposals and hot-spot counts it writes.
    user = users.get("cityloop-feedback")
    if user:
        app_id = prefix + facts["signals_app"]
        u = ident(user)
        r.expect(kafka_allows(user, "group", app_id, "Read"), u, f"worker cannot Read group {app_id}")
        for own in (f"{app_id}-sightings", f"{app_id}-surges-changelog", f"{app_id}-hotspots-changelog"):
            for op in ("Create", "Read", "Write"):
                r.expect(kafka_allows(user, "topic", own, op), u, f"worker cannot {op} {own}")
        r.expect(kafka_allows(user, "topic", prefix + "ticket.lifecycle", "Read"), u, "worker cannot Read lifecycle")
        for written in ("control.mode", "feedback.hotspots"):
            r.expect(kafka_allows(user, "topic", prefix + written, "Write"), u, f"worker cannot Write {written}")
    for svc, can_create in (("router", True), ("sla", False), ("intake", False), ("feedback", False)):
        user = users.get(f"cityloop-{svc}")
        if user:
            t = f"{prefix}dept.d0001.tasks"
            r.expect(kafka_allows(user, "topic", t, "Create") == can_create, ident(user), f"Create {t} != {can_create}")
            if svc in ("router", "sla"):
                r.expect(kafka_allows(user, "topic", t, "Write"), ident(user), f"cannot Write {t}")

    # Department identity (issue 11): router reads every department's updates, dead-letters to dept.updates.dlq;
    # each department's own KafkaUser reads only its tasks and writes only its updates.
    user = users.get("cityloop-router")
    if user:
        u = ident(user)
        for t in ("dept.d0001.updates", "dept.updates"):
            r.expect(kafka_allows(user, "topic", prefix + t, "Read"), u, f"cannot Read {t}")
        r.expect(
            kafka_allows(user, "topic", prefix + "dept.d0001.updates", "Create"), u, "cannot Create updates topics"
        )
        r.expect(kafka_allows(user, "topic", prefix + "dept.updates.dlq", "Write"), u, "cannot Write dept.updates.dlq")
    # --- PostgreSQL
    r.expect(len(clusters) == 1, "Cluster", "expected one CloudNativePG Cluster")
    for c in clusters.values():
        want = 3 if production else 1
        r.expect(c["spec"]["instances"] == want, ident(c), f"instances != {want} for {env}")
        init = c["spec"]["bootstrap"]["initdb"]
        r.expect(init.get("database") == "cityloop", ident(c), "database is not cityloop")
        stores = by_kind(objs, "ObjectStore")
        for p in c["spec"].get("plugins", []):
            name = p.get("parameters", {}).get("barmanObjectName")
            r.expect(name in stores, ident(c), f"ObjectStore {name} not rendered")
        for s in stores.values():
            for cred in s["spec"]["configuration"].get("s3Credentials", {}).values():
                if isinstance(cred, dict) and "name" in cred:
                    r.expect(cred["name"] in known_secrets, ident(s), f"Secret {cred['name']} unknown")
        for sb in by_kind(objs, "ScheduledBackup").values():
            r.expect(sb["spec"]["cluster"]["name"] == c["metadata"]["name"], ident(sb), "backs up another cluster")
            r.expect(len(sb["spec"]["schedule"].split()) == 6, ident(sb), "schedule is not 6-field cron")
        # Connections: every replica's pool at its maximum must fit.
        pool = int(intake_env.get("CITYLOOP_DB_POOL_MAX", "10"))
        pods = sum(d["spec"].get("replicas", 0) for n, d in deployments.items() if n not in hpas and n not in WORKERS)
        pods += sum(h["spec"]["maxReplicas"] for h in hpas.values())
        maxconn = int(c["spec"].get("postgresql", {}).get("parameters", {}).get("max_connections", "100"))
        r.expect(pods * pool + 10 <= maxconn, ident(c), f"{pods} pods x {pool} > max_connections {maxconn}")

    # --- monitoring
    sms = by_kind(objs, "ServiceMonitor")
    for name in (*SERVICES, *WORKERS):
        svc = services.get(name)
        if not svc:
            continue
        hit = [
            sm
            for sm in sms.values()
            if selects(sm["spec"]["selector"], svc["metadata"].get("labels", {}))
            and {e["port"] for e in sm["spec"]["endpoints"]} & {p["name"] for p in svc["spec"]["ports"]}
        ]
        r.expect(len(hit) == 1, ident(svc), f"scraped by {len(hit)} ServiceMonitors")
    for rule_obj in by_kind(objs, "PrometheusRule").values():
        for g in rule_obj["spec"]["groups"]:
            for rule in g["rules"]:
                expr = str(rule["expr"])
                for metric in set(re.findall(r"\bcityloop_[a-z0-9_]+", expr)):
                    r.expect(metric in facts["metrics"], ident(rule_obj), f"{rule.get('alert')}: {metric} not in code")
                for jobs in re.findall(r'job=~?"([^"]+)"', expr):
                    for job in jobs.split("|"):
                        r.expect(job in services, ident(rule_obj), f"{rule.get('alert')}: job {job} is no Service")
                r.expect(rule.get("labels", {}).get("severity") in {"critical", "warning"}, ident(rule_obj), "severity")


def dashboard_exprs(cm: Obj) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) for every target of every panel in a dashboard ConfigMap."""
    for text in (cm.get("data") or {}).values():
        board = json.loads(text)
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                yield board.get("uid", "?"), panel.get("title", "?"), str(target.get("expr", ""))


def check_dashboards(objs: list[Obj], facts: dict[str, Any], r: Report) -> None:
    """Grafana dashboards (deploy/grafana): JSON, the three boards, every panel queries metrics the code has."""
    boards = [
        cm for cm in by_kind(objs, "ConfigMap").values() if cm["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    uids: set[str] = set()
    for cm in boards:
        try:
            rows = list(dashboard_exprs(cm))
            uids |= {json.loads(t).get("uid") for t in cm["data"].values()}
        except (ValueError, AttributeError) as exc:
            r.fail(ident(cm), f"dashboard is not JSON: {exc}")
            continue
        r.expect(bool(rows), ident(cm), "dashboard without queries")
        for uid, title, expr in rows:
            r.expect(bool(expr.strip()), ident(cm), f"{uid} / {title}: empty expression")
            for metric in set(re.findall(r"\bcityloop_[a-z0-9_]+", expr)):
                r.expect(metric in facts["metrics"], ident(cm), f"{uid} / {title}: {metric} not in code")
    r.expect(
        {"cityloop-city", "cityloop-health", "cityloop-sla"} <= uids, "ConfigMap", f"dashboards missing: {sorted(uids)}"
    )


def check_alert_tests(objs: list[Obj], tests_path: Path, r: Report) -> None:
    """Every alert has a unit test in which it fires and one in which it stays silent (tools/alerts_test.yaml)."""
    tests = yaml.safe_load(tests_path.read_text(encoding="utf-8"))["tests"]
    fires: set[str] = set()
    silent: set[str] = set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    for rule_obj in by_kind(objs, "PrometheusRule").values():
        for g in rule_obj["spec"]["groups"]:
            for rule in g["rules"]:
                if "alert" in rule:
                    r.expect(rule["alert"] in fires, tests_path.name, f"no test in which {rule['alert']} fires")
                    r.expect(rule["alert"] in silent, tests_path.name, f"no test in which {rule['alert']} is silent")


def check_departments(objs: list[Obj], crds: dict[tuple[str, str, str], Obj], facts: dict[str, Any], r: Report) -> int:
    """The departments' KafkaUsers (deploy/k8s/departments/, generated by tools/dept_users.py): each a valid
    KafkaUser that reads only its tasks and writes only its updates. Returns 1 if a negative control (one
    department allowed to write every department's updates) goes unnoticed."""
    for o in objs:
        check_schema(o, crds, "", r)
    _check_departments(objs, facts, r)
    broken = copy.deepcopy(objs[:2])
    broken[0]["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": "dept.", "patternType": "prefix"}, "operations": ["Write"]}
    )
    control = Report()
    _check_departments(broken + objs[2:], facts, control)
    if not control.problems:
        print("  FAIL departments: negative control not caught: a department may write every department's updates")
        return 1
    return 0


def _check_departments(objs: list[Obj], facts: dict[str, Any], r: Report) -> None:
    codes = facts["departments"]
    dept_users = {o["metadata"]["name"]: o for o in objs if o["kind"] == "KafkaUser"}
    r.expect(len(dept_users) == len(objs), "departments", "objects other than KafkaUsers, or a name twice")
    for o in objs:
        labels = o["metadata"].get("labels") or {}
        r.expect(labels.get(COMPONENT) == "dept-kafka-user", ident(o), "not labelled a department's KafkaUser")
        r.expect(labels.get("strimzi.io/cluster") == "cityloop", ident(o), "not for the Kafka cluster cityloop")
    r.expect(
        set(dept_users) == {user_name(c) for c in codes}, "KafkaUser", "department users differ from departments.csv"
    )
    for code in codes:
        user = dept_users.get(user_name(code))
        if not user:
            continue
        u = ident(user)
        other = codes[0] if code != codes[0] else codes[1]
        r.expect(user["spec"]["authentication"]["type"] == "scram-sha-512", u, "not SCRAM-SHA-512")
        r.expect(kafka_allows(user, "topic", f"dept.{code}.tasks", "Read"), u, "cannot Read its tasks")
        r.expect(kafka_allows(user, "group", f"dept.{code}.tasks", "Read"), u, "cannot Read its group")
        r.expect(kafka_allows(user, "topic", f"dept.{code}.updates", "Write"), u, "cannot Write its updates")
        for rtype, name, op in (
            ("topic", f"dept.{other}.updates", "Write"),
            ("topic", f"dept.{other}.tasks", "Read"),
            ("group", f"dept.{other}.tasks", "Read"),
            ("topic", f"dept.{code}.tasks", "Write"),
            ("topic", "dept.updates", "Write"),
            ("topic", "ticket.lifecycle", "Read"),
            ("topic", f"dept.{code}.updates", "Create"),
            ("group", "cityloop.router.dept-updates", "Read"),
        ):
            r.expect(not kafka_allows(user, rtype, name, op), u, f"may {op} {rtype} {name}")
        # Exactly what the generator gives: a hand edit of kafka-users.yaml is caught here.
        r.expect(user["spec"]["authorization"]["acls"] == dept_acls(code), u, "ACLs differ from tools/dept_users.py")


def _find(objs: list[Obj], kind: str, name: str) -> Obj:
    # Generated ConfigMaps carry kustomize's hash suffix.
    return next(
        o
        for o in objs
        if o["kind"] == kind and (o["metadata"]["name"] == name or o["metadata"]["name"].startswith(f"{name}-"))
    )


# Negative controls: each breaks one thing that the checks above must catch. If one passes unnoticed, the
# validation has gone blind (a CRD schema that lost its properties, a cross-check that matches nothing).
MUTATIONS: list[tuple[str, str, str, Any]] = [
    ("KafkaTopic", "ticket-lifecycle", "unknown field in a KafkaTopic spec", lambda o: o["spec"].update(partitons=6)),
    ("KafkaTopic", "control-mode", "partitions differ from topics.py", lambda o: o["spec"].update(partitions=3)),
    (
        "KafkaUser",
        "cityloop-router",
        "ACL with the removed v1beta2 field 'operation'",
        lambda o: o["spec"]["authorization"]["acls"][0].update(operation="Read"),
    ),
    (
        "KafkaUser",
        "cityloop-sla",
        "consumer group ACL gone",
        lambda o: o["spec"]["authorization"]["acls"].__setitem__(
            slice(None), [a for a in o["spec"]["authorization"]["acls"] if a["resource"]["type"] != "group"]
        ),
    ),
    ("Cluster", "cityloop-db", "unknown field in a CNPG Cluster", lambda o: o["spec"].update(instance=3)),
    ("Cluster", "cityloop-db", "wrong type in a CNPG Cluster", lambda o: o["spec"].update(instances="three")),
    (
        "Cluster",
        "cityloop-db",
        "migrations' owner made a superuser",
        lambda o: o["spec"]["managed"]["roles"][0].update(superuser=True),
    ),
    (
        "ObjectStore",
        "cityloop-backup",
        "ObjectStore without destinationPath",
        lambda o: o["spec"]["configuration"].pop("destinationPath"),
    ),
    (
        "ServiceMonitor",
        "cityloop",
        "endpoint field misspelt",
        lambda o: o["spec"]["endpoints"][0].update(intervall="1m"),
    ),
    (
        "PrometheusRule",
        "cityloop",
        "alert on a metric the code does not export",
        lambda o: o["spec"]["groups"][0]["rules"][0].update(expr="cityloop_no_such_metric > 0"),
    ),
    (
        "ConfigMap",
        "cityloop-dashboard-sla",
        "dashboard panel on a metric the code does not export",
        lambda o: o["data"].update(
            {"sla.json": '{"uid": "cityloop-sla", "panels": [{"targets": [{"expr": "cityloop_nope"}]}]}'}
        ),
    ),
    (
        "Deployment",
        "router",
        "unknown field in a container",
        lambda o: o["spec"]["template"]["spec"]["containers"][0].update(readinessprobe={}),
    ),
    (
        "Deployment",
        "sla",
        "writable root filesystem",
        lambda o: o["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(
            readOnlyRootFilesystem=False
        ),
    ),
    (
        "Deployment",
        "feedback",
        "migrations not run before the service",
        lambda o: o["spec"]["template"]["spec"].pop("initContainers"),
    ),
    (
        "Service",
        "feedback",
        "Service selects no pod",
        lambda o: o["spec"]["selector"].update({"app.kubernetes.io/name": "fb"}),
    ),
    (
        "Ingress",
        "cityloop",
        "Ingress to a port that does not exist",
        lambda o: o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"].update(name="web"),
    ),
]


def self_test(objs: list[Obj], crds: dict[tuple[str, str, str], Obj], facts: dict[str, Any], env: str, k8s: str) -> int:
    blind = 0
    for kind, name, what, mutate in MUTATIONS:
        broken = copy.deepcopy(objs)
        target = _find(broken, kind, name)
        mutate(target)
        r = Report()
        check_schema(target, crds, k8s, r)
        cross_check(broken, facts, env, r)
        check_dashboards(broken, facts, r)
        if not r.problems:
            blind += 1
            print(f"  FAIL {env}: negative control not caught: {what} ({kind}/{name})")
    print(f"  {env}: {len(MUTATIONS) - blind}/{len(MUTATIONS)} negative controls caught")
    return blind


def iter_docs(path: Path) -> Iterator[Obj]:
    # libyaml's loader when PyYAML has it: the departments' 1,104 KafkaUsers parse several times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader):
        if doc:
            yield doc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True, choices=["staging", "production"])
    ap.add_argument("--rendered", required=True, type=Path)
    ap.add_argument("--crds", required=True, type=Path)
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--k8s-version", required=True)
    ap.add_argument("--rules-out", type=Path, help="write the PrometheusRule groups here, for promtool")
    ap.add_argument("--departments", type=Path, help="the departments' KafkaUsers (deploy/k8s/departments/)")
    args = ap.parse_args()

    objs = list(iter_docs(args.rendered))
    crds = load_crds(args.crds)
    r = Report()
    counts: dict[str, int] = {}
    for o in objs:
        how = check_schema(o, crds, args.k8s_version, r)
        counts[how] = counts.get(how, 0) + 1
    facts = code_facts(args.repo)
    cross_check(objs, facts, args.env, r)
    check_alert_tests(objs, args.repo / "deploy/k8s/tools/alerts_test.yaml", r)
    check_dashboards(objs, facts, r)
    blind = self_test(objs, crds, facts, args.env, args.k8s_version)
    if args.departments:
        departments = list(iter_docs(args.departments))
        blind += check_departments(departments, crds, facts, r)
        print(f"  {args.env}: {len(departments)} department KafkaUsers checked")
    if args.rules_out:
        groups = [g for o in objs if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
        args.rules_out.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")

    for p in r.problems:
        print(f"  FAIL {args.env}: {p}")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"  {args.env}: {len(objs)} objects ({kinds} schema), {r.checked} checks, {len(r.problems)} problems")
    return 1 if r.problems or blind else 0


if __name__ == "__main__":
    sys.exit(main())
