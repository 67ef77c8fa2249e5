"""The published contract, generated from the registry so it cannot drift from the code:

* ``docs/contract/events/<type>.json``: one JSON Schema (draft 2020-12) per event type, the whole
  CloudEvent with its typed ``data``;
* ``docs/contract/asyncapi.yaml``: an AsyncAPI 3.0 document naming every public topic, its key and its
  messages, whose payloads point at those schemas.

``documents()`` returns them as {path relative to the repository: text}; ``python -m scripts.contract``
writes them and ``--check`` says which are stale (tests/unit/test_contract_fresh.py runs the check).
"""

import json
from typing import Any

from pydantic.json_schema import JsonSchemaMode

from cityloop.common.contract.registry import (
    CONTROL_MODE,
    DEPT_TASKS,
    DEPT_UPDATES,
    LIFECYCLE,
    SHARED_DEPT_UPDATES,
    EventSpec,
    all_specs,
)
from cityloop.common.envelope import CONTENT_TYPE
from cityloop.common.topics import CONTROL_MODE as CONTROL_MODE_TOPIC
from cityloop.common.topics import DEPT_UPDATES as SHARED_DEPT_UPDATES_TOPIC
from cityloop.common.topics import TICKET_LIFECYCLE, TopicSpec, dept_tasks, dept_updates

DOCS = "docs/contract"
EVENTS = f"{DOCS}/events"
ASYNCAPI = f"{DOCS}/asyncapi.yaml"
#: The version of the contract's AsyncAPI document (``info.version``); additive changes raise the minor.
VERSION = "1.1.0"

#: Families whose events are about one ticket: the subject and the Kafka key are the ticket id.
_TICKET_KEYED = frozenset({LIFECYCLE, DEPT_TASKS, DEPT_UPDATES, SHARED_DEPT_UPDATES})


def schema_path(type_: str) -> str:
    return f"{EVENTS}/{type_}.json"


def event_schema(spec: EventSpec) -> dict[str, Any]:
    """The JSON Schema of one event type: the CloudEvents envelope, ``type`` fixed, ``data`` typed.

    Produced events are described as CityLoop writes them (every field present, nulls included);
    accepted ones as CityLoop accepts them (optional fields may be left out)."""
    mode: JsonSchemaMode = "serialization" if spec.direction == "produced" else "validation"
    data = spec.data.model_json_schema(ref_template="#/$defs/{model}", mode=mode)
    defs = data.pop("$defs", {})
    required = ["specversion", "id", "source", "type", "time", "datacontenttype", "data"]
    keyed = any(t in _TICKET_KEYED for t in spec.topics)
    if keyed and spec.direction == "produced":
        required.insert(4, "subject")
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": spec.type,
        "description": spec.description,
        "type": "object",
        "required": required,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1, "description": "Unique; consumers de-duplicate by it."},
            "source": {"type": "string", "minLength": 1},
            "type": {"const": spec.type},
            "time": {"type": "string", "format": "date-time", "description": "RFC 3339 with an offset."},
            "subject": {
                "type": "string",
                "description": "The ticket id (also the Kafka key)." if keyed else "The key of the event.",
            },
            "datacontenttype": {"const": "application/json"},
            "data": data,
        },
    }
    if defs:
        schema["$defs"] = defs
    return schema


_PARAMETER = {"dept_code": {"description": "The department's code, e.g. `pd-sanitation` (master data)."}}


def _topic_binding(spec: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if "cleanup.policy" in spec.config:
        config["cleanup.policy"] = [spec.config["cleanup.policy"]]
    if "retention.ms" in spec.config:
        config["retention.ms"] = int(spec.config["retention.ms"])
    binding: dict[str, Any] = {"partitions": spec.partitions}
    if config:
        binding["topicConfiguration"] = config
    return {"kafka": {**binding, "bindingVersion": "0.5.0"}}


#: family -> (channel id, title, description, topic spec for its Kafka binding)
_CHANNELS: dict[str, tuple[str, str, str, TopicSpec]] = {
    LIFECYCLE: (
        "ticketLifecycle",
        "Every state change of a ticket",
        "CityLoop -> anyone allowed (analytics, the city's data platform); personal data masked.",
        TICKET_LIFECYCLE,
    ),
    DEPT_TASKS: (
        "deptTasks",
        "One department's tasks",
        "CityLoop -> one department's system.",
        dept_tasks("{dept_code}"),
    ),
    DEPT_UPDATES: (
        "deptUpdates",
        "One department's updates",
        "One department's system -> CityLoop; the topic names the sender (broker ACLs let only that "
        "department write it).",
        dept_updates("{dept_code}"),
    ),
    SHARED_DEPT_UPDATES: (
        "sharedDeptUpdates",
        "Departments' updates (first release)",
        "The shared inbound topic of the first release, kept readable during the transition to "
        "dept.{dept_code}.updates, until 2027-06-30; the dept_code inside names the sender.",
        SHARED_DEPT_UPDATES_TOPIC,
    ),
    CONTROL_MODE: (
        "controlMode",
        "Emergency mode (平战结合)",
        "CityLoop -> all services; compacted, so the latest state of every emergency survives.",
        CONTROL_MODE_TOPIC,
    ),
}


def asyncapi(specs: list[EventSpec]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every public topic and message."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in specs:
        keyed = any(t in _TICKET_KEYED for t in spec.topics)
        messages[spec.type] = {
            "name": spec.type,
            "title": spec.type,
            "summary": spec.description,
            "contentType": CONTENT_TYPE,
            "payload": {"$ref": f"events/{spec.type}.json"},
            "bindings": {
                "kafka": {
                    "key": {
                        "type": "string",
                        "description": "The ticket id." if keyed else "The subject of the event.",
                    },
                    "bindingVersion": "0.5.0",
                }
            },
        }
    for family, (channel_id, title, description, topic) in _CHANNELS.items():
        on_it = [s for s in specs if family in s.topics]
        if not on_it:
            continue
        channel: dict[str, Any] = {
            "address": family,
            "title": title,
            "description": description + " Names may carry a deployment's prefix (CITYLOOP_TOPIC_PREFIX).",
            "messages": {s.type: {"$ref": f"#/components/messages/{s.type}"} for s in on_it},
            "bindings": _topic_binding(topic),
        }
        if "{dept_code}" in family:
            channel["parameters"] = {name: dict(p) for name, p in _PARAMETER.items()}
        channels[channel_id] = channel
        for direction, action in (("produced", "send"), ("accepted", "receive")):
            mine = [s for s in on_it if s.direction == direction]
            if mine:
                operations[f"{action}{channel_id[0].upper()}{channel_id[1:]}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"CityLoop {'sends' if action == 'send' else 'receives'} these on {family}.",
                    "messages": [{"$ref": f"#/channels/{channel_id}/messages/{s.type}"} for s in mine],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CityLoop events",
            "version": VERSION,
            "description": (
                "The events of the 12345 hotline's closed loop. Every event is a CloudEvents 1.0 envelope in "
                "structured JSON mode; the Kafka key is the ticket id, so one ticket's events stay in order. "
                "Changes are additive only (README.md, 'Changes to the contract'). Generated from "
                "libs/common/cityloop/common/contract/ by `python -m scripts.contract`."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The broker of a local run (make run).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def documents() -> dict[str, str]:
    """Every generated file of the published contract: {path relative to the repository: text}."""
    import yaml  # noqa: PLC0415 - a development tool's dependency; services import this package too

    class Plain(yaml.SafeDumper):
        """Spells out a repeated object instead of an anchor and alias: a document for people."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    specs = all_specs()
    out = {schema_path(s.type): json.dumps(event_schema(s), indent=2, ensure_ascii=False) + "\n" for s in specs}
    document = yaml.dump(asyncapi(specs), Dumper=Plain, sort_keys=False, allow_unicode=True, width=110)
    out[ASYNCAPI] = "# Generated by `python -m scripts.contract`; do not edit.\n" + document
    return out
