"""MembraneError is a plain exception: a code from one enum, hashable, and it survives a pickle."""

from __future__ import annotations

import pickle

from mautic_mcp.membrane.errors import ErrorCode, MembraneError, api_error, classify


def test_an_error_survives_a_pickle_round_trip_with_every_field():
    error = MembraneError(ErrorCode.TIMEOUT, "No answer.", "Try again.", outcome_unknown=True)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is MembraneError
    assert (copy.code, copy.what, copy.fix, copy.outcome_unknown) == (
        ErrorCode.TIMEOUT,
        "No answer.",
        "Try again.",
        True,
    )
    assert str(copy) == "No answer. Try again."


def test_errors_are_hashable_and_compare_by_identity():
    one = MembraneError(ErrorCode.FAILED, "x")
    two = MembraneError(ErrorCode.FAILED, "x")
    assert len({one, two, one}) == 2


def test_codes_are_strings_for_clients_and_an_enum_for_code():
    error = MembraneError("rate_limited", "slow down")  # type: ignore[arg-type]
    assert error.code is ErrorCode.RATE_LIMITED and error.code == "rate_limited"


def test_after_write_says_unknown_not_made_or_nothing():
    unknown = MembraneError(ErrorCode.CRASHED, "killed", outcome_unknown=True).after_write("a GET")
    assert "unknown whether the change was made" in unknown and "a GET" in unknown
    assert (
        MembraneError(ErrorCode.NOT_LOGGED_IN, "x", not_made=True).after_write("a GET") == " The change was not made."
    )
    assert MembraneError(ErrorCode.NOT_LOGGED_IN, "x").after_write("a GET") == "", "no claim without evidence"
    assert MembraneError(ErrorCode.API_ERROR, "x").after_write("a GET") == ""


def test_classify_reads_the_membrane_key_first():
    error = classify({"key": "rate_limit_exceeded", "message": "Too many", "data": {"retryAfter": 30}}, "c")
    assert error.code is ErrorCode.RATE_LIMITED and "30 seconds" in error.fix


def test_api_errors_name_the_fields_and_the_fix_by_status():
    body = {"errors": [{"code": 422, "message": "Invalid", "details": {"email": ["is not valid"]}}]}
    error = api_error(422, body, "fallback")
    assert error.code is ErrorCode.API_ERROR
    assert "email: is not valid" in error.what and "Fix the fields" in error.fix
