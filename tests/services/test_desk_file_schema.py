"""The desk file's JSON Schema shipped in the package is the one its models generate, and it
is strict: no unknown key anywhere, a secret only by reference."""

from __future__ import annotations

from typing import Any

from tokendesk.services.desk.file import generated_schema, published_schema


def test_the_published_schema_is_the_generated_one() -> None:
    # Regenerate with: python -c "from tokendesk.services.desk.file import *;
    # open('src/tokendesk/services/desk/desk-file.schema.json','w').write(
    # schema_text(generated_schema()))"
    assert published_schema() == generated_schema()


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "object" and "properties" in node else []
        return found + [o for value in node.values() for o in _objects(value)]
    if isinstance(node, list):
        return [o for value in node for o in _objects(value)]
    return []


def test_every_object_of_the_schema_refuses_unknown_keys() -> None:
    objects = _objects(generated_schema())

    # the file, a role, a connection, a webhook, the proxy, the SMTP server, a secret
    # reference, a workload issuer, its rule and a rule's condition
    assert len(objects) == 10
    assert all(o["additionalProperties"] is False for o in objects)


def test_a_secret_is_a_reference_to_exactly_one_of_env_or_file() -> None:
    reference = generated_schema()["$defs"]["SecretReference"]

    assert reference["oneOf"] == [{"required": ["env"]}, {"required": ["file"]}]
    assert set(reference["properties"]) == {"env", "file"}


def test_an_explicit_null_beside_a_workload_condition_s_test_is_read_as_left_out() -> None:
    """Found by the API fuzz test: a null ``one_of`` beside ``equals`` was a TypeError (500)."""
    from tokendesk.services.desk.yaml_text import parse_desk

    rule = {"acts_as": "user", "user": "admin",
            "conditions": [{"claim": "sub", "equals": "x", "prefix": None, "one_of": None}]}
    desk = parse_desk({"version": 1, "workload_issuers": [{
        "name": "ci", "issuer": "https://ci.example.test", "audiences": ["a"],
        "rules": [rule]}]})

    assert desk.workload_issuers is not None
    [condition] = desk.workload_issuers[0].rules[0].conditions
    assert (condition.equals, condition.prefix, condition.one_of) == ("x", None, None)
