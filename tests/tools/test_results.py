"""Result shaping: compact JSON, structured content, cut to fit."""

import json

from mautic_mcp.tools.results import TRUNCATION_KEY, fit, json_result, text_result


def test_small_results_are_compact_and_structured():
    result = json_result({"a": [1, 2]}, 1000)
    assert result.content[0].text == '{"a":[1,2]}'
    assert result.structured_content == {"a": [1, 2]}
    assert json_result([1], 1000).structured_content == {"result": [1]}
    assert json_result("x", 1000).structured_content == {"result": "x"}


def test_null_fields_are_left_out():
    result = json_result({"id": 1, "phone": None, "tags": [None, {"a": None, "b": 2}]}, 1000)
    assert result.content[0].text == '{"id":1,"tags":[null,{"b":2}]}'


def test_long_records_are_trimmed_with_a_note():
    records = [{"id": i, "name": "n" * 100} for i in range(500)]
    shaped = fit({"records": records, "total": 500}, 5000)
    assert len(json.dumps(shaped, separators=(",", ":"))) <= 5000
    kept = shaped["records"]
    assert 0 < len(kept) < 500 and kept[0]["id"] == 0
    assert shaped["total"] == 500
    assert f"first {len(kept)} of 500" in shaped[TRUNCATION_KEY]


def test_mautic_rows_keyed_by_id_are_trimmed():
    rows = {str(i): {"id": i, "email": f"c{i}@example.com" * 5} for i in range(1, 300)}
    shaped = fit({"total": "299", "contacts": rows}, 4000)
    assert 0 < len(shaped["contacts"]) < 299
    assert "1" in shaped["contacts"]


def test_long_text_fields_are_cut_first():
    email = {"id": 1, "subject": "Hi", "customHtml": "<p>" + "x" * 100_000 + "</p>"}
    shaped = fit(email, 5000)
    assert shaped["subject"] == "Hi"
    assert "cut" in shaped["customHtml"] and len(shaped["customHtml"]) < 600
    assert "long text field" in shaped[TRUNCATION_KEY]


def test_text_results_are_cut_with_a_note():
    result = text_result("y" * 50_000, 1000)
    assert len(result.content[0].text) < 1300
    assert "Ask for less" in result.content[0].text
