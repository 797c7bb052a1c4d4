"""Shaping answers: compact JSON, previews in lists, paging first, every cut named and within the cap."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mautic_mcp.tools import shaping
from mautic_mcp.tools.shaping import cut_text, fit_list, fit_value, fit_value_parts, render_list, split_list


def no_reader(record: Any) -> str | None:
    return None


def test_null_fields_are_left_out_and_json_is_compact():
    assert fit_value({"id": 1, "phone": None, "tags": [None, {"a": None, "b": 2}]}, 1000) == (
        '{"id":1,"tags":[null,{"b":2}]}'
    )


def test_lists_are_found_in_every_plausible_shape():
    assert split_list([{"id": 1}]) is not None
    membrane = split_list({"records": [{"id": 1}], "total": 9, "cursor": "p2"})
    assert membrane is not None and (membrane.total, membrane.cursor, membrane.key) == (9, "p2", "records")
    mautic = split_list({"total": "2", "contacts": {"4": {"id": 4}, "7": {"id": 7}}}, any_key=True)
    assert mautic is not None and mautic.keyed and mautic.total == 2 and [k for k, _ in mautic.rows] == ["4", "7"]
    empty = split_list({"total": 0, "contacts": []}, any_key=True)
    assert empty is not None and empty.rows == []
    assert split_list({"contact": {"id": 1, "fields": {"a": 1}}}, any_key=True) is None
    assert split_list({"id": 1, "events": [{"id": 2}]}) is None, "a record with a list inside is not a list"


def test_long_text_in_a_list_is_a_preview_that_says_its_length_and_who_reads_it_whole():
    listing = split_list({"records": [{"id": 3, "customHtml": "<p>" + "x" * 5000 + "</p>"}], "total": 1})
    assert listing is not None
    text = render_list(
        fit_list(listing, 60_000, lambda r: f'get_email {{"id": {r["id"]}}}'),
        of=1,
        next_arguments=None,
        max_chars=60_000,
    )
    body = json.loads(text)
    html = body["records"][0]["customHtml"]
    assert len(html) < 300 and "5,007 characters" in html and 'get_email {"id": 3} reads it in full' in html
    assert "preview" in body["note"]


def test_total_next_and_note_come_before_the_records():
    listing = split_list({"records": [{"id": i, "name": "n" * 100} for i in range(500)], "total": 500})
    assert listing is not None
    fitted = fit_list(listing, 5000, no_reader)
    text = render_list(fitted, of=500, next_arguments={"start": fitted.shown}, max_chars=5000)
    assert len(text) <= 5000
    assert text.index('"total"') < text.index('"next"') < text.index('"note"') < text.index('"records"')
    body = json.loads(text)
    assert 0 < fitted.shown < 500 and body["next"] == {"start": fitted.shown}
    assert f"{fitted.shown} of the 500 records" in body["note"]


def test_a_record_longer_than_the_cap_is_kept_with_its_cut_fields_named():
    wide = {"subject": "Hi", "id": 1, **{f"field{i}": "v" * 250 for i in range(40)}}
    listing = split_list({"records": [wide, {"id": 2}]})
    assert listing is not None
    fitted = fit_list(listing, 2000, lambda r: f'get_thing {{"id": {r["id"]}}}')
    text = render_list(fitted, of=2, next_arguments={"start": 1}, max_chars=2000)
    assert len(text) <= 2000 and fitted.shown == 1
    body = json.loads(text)
    record = body["records"][0]
    assert record["id"] == 1 and record["subject"] == "Hi"
    assert "--max-result-chars" in body["note"] and "'field0'" in body["note"]
    assert "fields left out" in body["note"] and 'get_thing {"id": 1} reads it in full' in body["note"]


def test_a_single_answer_names_the_field_it_cut_and_never_sends_the_model_back_to_the_same_call():
    email = {"id": 1, "subject": "Hi", "customHtml": "<p>" + "x" * 100_000 + "</p>"}
    text = fit_value(email, 5000)
    assert len(text) <= 5000
    body = json.loads(text)
    assert body["subject"] == "Hi" and "'customHtml'" in body["note"] and "of 100,007" in body["note"]
    assert "--max-result-chars" in body["note"]
    assert "by id" not in body["note"], "the model asked for this item by id already"


def test_text_answers_are_cut_with_a_note_on_the_cap():
    text = cut_text("y" * 50_000, 1000)
    assert len(text) <= 1000 and "50,000 characters in all" in text and "--max-result-chars" in text


def test_a_long_answer_is_serialised_once_before_its_fields_are_cut(monkeypatch: pytest.MonkeyPatch):
    email = {"id": 1, "subject": "Hi", "customHtml": "<p>" + "x" * 100_000 + "</p>", "plainText": "y" * 50_000}
    expected = fit_value(email, 5000)
    whole: list[int] = []
    real = shaping.compact

    def counting(value: Any) -> str:
        text = real(value)
        whole.append(len(text) > 100_000)
        return text

    monkeypatch.setattr(shaping, "compact", counting)
    assert fit_value(email, 5000) == expected
    assert whole.count(True) == 1, "the answer at full length is made JSON once, its length passed on"
    size = len(real(email))
    assert fit_value_parts(dict(email), 3000, size=size) == fit_value_parts(dict(email), 3000)
