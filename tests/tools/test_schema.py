"""Schema normalization and argument validation."""

import json

import pytest
from jsonschema import Draft7Validator, Draft202012Validator

from mautic_mcp.tools.schema import normalize_input_schema
from mautic_mcp.tools.validation import ArgumentsValidator

MEMBRANE_SCHEMA = {
    "properties": {
        "email": {"type": "string", "isSensitive": True, "referenceRecords": [{"id": 1}]},
        "tags": {"type": "array"},
        "owner": {"$ref": "#/definitions/user"},
        "createdAt": {"type": "date", "readOnly": True},
        "stage": {"type": ["string", "null"], "allowCustom": True},
    },
    "required": ["email", "createdAt", 3],
    "definitions": {"user": {"type": "object", "properties": {"id": {"type": "integer"}}}},
}


def test_normalized_schema_is_portable():
    schema = normalize_input_schema(MEMBRANE_SCHEMA)
    text = json.dumps(schema)
    assert schema["type"] == "object"
    assert "$ref" not in text and "definitions" not in text
    for key in ("isSensitive", "referenceRecords", "allowCustom"):
        assert key not in text
    assert schema["properties"]["tags"]["items"]["anyOf"]
    assert schema["properties"]["stage"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema["properties"]["owner"]["properties"]["id"] == {"type": "integer"}
    assert "createdAt" not in schema["properties"]
    assert schema["required"] == ["email"]
    assert schema["additionalProperties"] is False
    Draft202012Validator.check_schema(schema)
    Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("raw", [None, {}, [], "x", {"type": "string"}])
def test_missing_or_odd_schema_becomes_an_empty_object(raw):
    assert normalize_input_schema(raw) == {"type": "object", "properties": {}, "additionalProperties": False}


def test_recursive_ref_does_not_loop():
    schema = normalize_input_schema(
        {
            "type": "object",
            "properties": {"node": {"$ref": "#/definitions/n"}},
            "definitions": {"n": {"type": "object", "properties": {"child": {"$ref": "#/definitions/n"}}}},
        }
    )
    assert "$ref" not in json.dumps(schema)
    Draft202012Validator.check_schema(schema)


def test_property_named_like_a_membrane_key_is_kept():
    schema = normalize_input_schema({"type": "object", "properties": {"isSensitive": {"type": "boolean"}}})
    assert "isSensitive" in schema["properties"]


def validator():
    return ArgumentsValidator(
        normalize_input_schema(
            {
                "type": "object",
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "maxLength": 10},
                    "order": {"type": "string", "enum": ["asc", "desc"]},
                },
                "required": ["id"],
            }
        )
    )


def test_valid_arguments_have_no_errors():
    assert validator().errors({"id": 3, "name": "--help", "order": "asc"}) == []


def test_each_bad_field_is_named_with_what_is_expected():
    errors = validator().errors({"name": 5, "order": "up", "colour": "red"})
    text = " | ".join(errors)
    assert "'id': required field is missing" in text
    assert "'name': expected string, got integer" in text
    assert '\'order\': must be one of "asc", "desc"' in text
    assert "unknown field 'colour'; accepted fields: id, name, order" in text


def test_huge_values_are_not_quoted_back():
    errors = validator().errors({"id": 1, "name": "x" * 1_000_000})
    assert errors == ["'name': must be at most 10 characters long, got 1000000"]


def test_deep_nesting_is_refused_without_recursion_error():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    errors = ArgumentsValidator({"type": "object"}).errors({"x": deep})
    assert errors and "nested" in errors[0]


def test_non_object_arguments():
    assert validator().errors([1, 2]) == ["arguments must be a JSON object, got array"]


def test_type_lists_become_single_typed_branches_that_validate_the_same():
    schema = normalize_input_schema(
        {"type": ["object", "null"], "properties": {"n": {"type": ["integer", "string"], "enum": [1, "one"]}}}
    )
    assert schema["type"] == "object" and "anyOf" not in schema
    assert schema["properties"]["n"] == {"enum": [1, "one"], "anyOf": [{"type": "integer"}, {"type": "string"}]}
    check = ArgumentsValidator(schema)
    assert check.errors({"n": 1}) == [] and check.errors({"n": "one"}) == []
    assert check.errors({"n": 2})
