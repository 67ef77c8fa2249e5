"""Write the production alert rules as a Prometheus rule file: ``python -m scripts.observe.rules OUT``.

The rules live once, in the PrometheusRule of the kustomize base; the local Prometheus of ``make observe``
reads the same groups, so what pages in production can be seen firing on a laptop.
"""

import sys
from pathlib import Path
from typing import Any

import yaml

RULES = Path(__file__).resolve().parents[2] / "deploy/k8s/base/monitoring/prometheusrule.yaml"


def rule_groups(path: Path = RULES) -> dict[str, Any]:
    resource = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert resource["kind"] == "PrometheusRule", path
    return {"groups": resource["spec"]["groups"]}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scripts.observe.rules OUT", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(yaml.safe_dump(rule_groups(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
