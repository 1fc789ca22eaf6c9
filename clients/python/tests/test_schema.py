"""The client's types and constants against the committed JSON Schemas of the wire
protocol (``docs/schema/api/``, generated from the server's own types): the decision,
mode, approval-status and error-code spellings, the fields the dataclasses hold, and real
answers of ``aecl serve`` validated with ``jsonschema``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

import aecl
from aecl import client as wire
from conftest import REPO

SCHEMAS = REPO / "docs" / "schema" / "api"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def definition(name: str, of: str) -> dict:
    return schema(of)["$defs"][name]


def values(definition: dict) -> list:
    """The spellings an enum schema allows: `enum`, or the `const`s of its `oneOf` (the
    form a documented variant takes)."""
    if "enum" in definition:
        return list(definition["enum"])
    return [v for branch in definition["oneOf"] for v in values_of(branch)]


def values_of(branch: dict) -> list:
    return [branch["const"]] if "const" in branch else list(branch.get("enum", []))


def fields(cls) -> set:
    return {f.name for f in dataclasses.fields(cls)} - {"raw"}


def validate(name: str, value) -> None:
    jsonschema.Draft202012Validator(schema(name)).validate(value)


def test_the_spellings_are_the_servers():
    assert tuple(values(definition("Decision", "call-answer"))) == wire.DECISIONS
    assert tuple(values(definition("Mode", "call-answer"))) == wire.MODES
    assert tuple(values(definition("ApprovalStatus", "approval"))) == wire.APPROVAL_STATUSES
    codes = set(values(definition("ErrorCode", "error")))
    assert set(wire._EVENT_REFUSALS) <= codes
    # The hand-over the client looks for is a `succeeded` effect.
    assert "succeeded" in values(definition("EffectState", "call-answer"))


def test_the_dataclasses_hold_the_answers_fields():
    answer = schema("call-answer")
    properties = set(answer["properties"])
    # `Decision` renames `id` to `call_id`, and keeps `risk.score` as `risk_score` too.
    assert fields(aecl.Decision) - {"call_id", "risk_score"} <= properties
    assert {"id", "run", "action", "decision", "mode", "reasons", "risk", "policy_revision"} <= set(
        answer["required"]
    )
    assert fields(wire.Reason) == set(answer["$defs"]["Reason"]["properties"])
    assert fields(wire.Effect) == set(answer["$defs"]["Effect"]["properties"])
    approval = schema("approval")
    assert fields(aecl.Approval) <= set(approval["properties"])
    optional = {"decided_by", "reason", "context"}
    assert fields(aecl.Approval) - optional <= set(approval["required"])


def test_a_drifted_answer_is_refused_by_the_schema():
    answer = {
        "id": "c1", "run": "r", "action": "a", "decision": "permit", "mode": "enforce",
        "reasons": [], "risk": {"score": 0.0, "contributions": [], "approval_threshold": 0.5},
        "policy_revision": "x", "approval_id": None,
    }
    with pytest.raises(jsonschema.ValidationError):
        validate("call-answer", answer)
    answer["decision"] = "allow"
    validate("call-answer", answer)


def test_real_answers_match_the_schemas(server):
    client = server.agent()
    allowed = client.evaluate("lookup_order", {"order_id": "ORD-9"})
    validate("call-answer", dict(allowed.raw))
    blocked = client.evaluate("delete_customer", {"customer_id": "C-9"})
    validate("call-answer", dict(blocked.raw))
    executed = client.execute("lookup_order", {"order_id": "ORD-10"})
    assert executed.effect is not None
    validate("call-answer", dict(executed.raw))
    validate("effect", dict(executed.raw)["effect"])
    asked = client.execute("refund_payment", {"order_id": "ORD-11", "amount": 40})
    assert asked.decision == "require_approval" and asked.approval_id
    validate("call-answer", dict(asked.raw))
    approval = client.approval(asked.approval_id)
    assert approval.context is not None
    validate("approval", dict(approval.raw))
    validate("verdict", dict(approval.context["verdict"]))
    rejected = server.approver().reject(asked.approval_id, "not today")
    validate("approval", dict(rejected.raw))
