"""The published event contract (docs/contract/asyncapi.yaml, docs/contract/events/) is valid and complete;
its freshness is checked with every generated file in tests/unit/test_contract_fresh.py."""

import json
from pathlib import Path

import yaml
from jsonschema import Draft7Validator, Draft202012Validator
from scripts.contract import ROOT, generate
from scripts.contract.asyncapi_spec import official_schema

CONTRACT = Path(ROOT) / "docs" / "contract"


def test_the_event_contract_is_among_the_generated_files() -> None:
    files = generate()
    assert "docs/contract/asyncapi.yaml" in files
    assert "docs/contract/events/cityloop.task.assigned.json" in files


def test_asyncapi_document_is_valid_asyncapi_3() -> None:
    document = yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text())
    errors = sorted(Draft7Validator(official_schema()).iter_errors(document), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_asyncapi_names_every_public_topic_key_and_message() -> None:
    document = yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text())
    addresses = {c["address"]: c for c in document["channels"].values()}
    assert set(addresses) >= {
        "ticket.lifecycle",
        "dept.{dept_code}.tasks",
        "dept.{dept_code}.updates",
        "dept.updates",
    }
    for address in ("dept.{dept_code}.tasks", "dept.{dept_code}.updates"):
        assert set(addresses[address]["parameters"]) == {"dept_code"}
    messages = document["components"]["messages"]
    for name, message in messages.items():
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        # Every payload is one of the published schemas, and it describes exactly that type.
        schema = json.loads((CONTRACT / message["payload"]["$ref"]).read_text())
        assert schema["properties"]["type"] == {"const": name}
    assert {m["$ref"].rsplit("/", 1)[-1] for c in document["channels"].values() for m in c["messages"].values()} == set(
        messages
    )


def test_every_event_schema_is_a_valid_json_schema() -> None:
    files = sorted((CONTRACT / "events").glob("*.json"))
    assert files
    for path in files:
        Draft202012Validator.check_schema(json.loads(path.read_text()))
