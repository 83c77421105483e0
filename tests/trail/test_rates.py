"""CI minutes priced from runner labels and job times, as GitHub bills them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.trail.rates import (
    RATES,
    job_cost,
    job_minutes,
    parse_rate_overrides,
    rate_for_labels,
)
from bot.trail.validation import InvalidInput


def reason_of(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value.path, caught.value.reason


# --- the rate table ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "rate"),
    [
        ("linux_slim", "0.002"),
        ("linux", "0.006"),
        ("windows", "0.010"),
        ("macos", "0.062"),
        ("linux_4_core", "0.012"),
        ("linux_8_core", "0.022"),
        ("linux_16_core", "0.042"),
        ("linux_32_core", "0.082"),
        ("linux_64_core", "0.162"),
        ("linux_96_core", "0.252"),
        ("windows_4_core", "0.022"),
        ("windows_8_core", "0.042"),
        ("windows_16_core", "0.082"),
        ("windows_32_core", "0.162"),
        ("windows_64_core", "0.322"),
        ("windows_96_core", "0.552"),
        ("macos_l", "0.077"),
        ("linux_arm", "0.005"),
        ("linux_2_core_arm", "0.005"),
        ("linux_4_core_arm", "0.008"),
        ("macos_xl", "0.102"),
        ("linux_4_core_gpu", "0.052"),
        ("windows_4_core_gpu", "0.102"),
        ("self_hosted", "0.002"),
    ],
)
def test_rates_are_githubs_2026_list_prices(sku: str, rate: str) -> None:
    assert RATES[sku] == Decimal(rate)


# --- labels ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "sku", "rate"),
    [
        (["ubuntu-latest"], "linux", "0.006"),
        (["ubuntu-24.04"], "linux", "0.006"),
        (["ubuntu-22.04"], "linux", "0.006"),
        (["Ubuntu-Latest"], "linux", "0.006"),
        (["ubuntu-slim"], "linux_slim", "0.002"),
        (["ubuntu-24.04-arm"], "linux_arm", "0.005"),
        (["ubuntu-22.04-arm"], "linux_arm", "0.005"),
        (["windows-latest"], "windows", "0.010"),
        (["windows-2022"], "windows", "0.010"),
        (["windows-2025"], "windows", "0.010"),
        (["macos-latest"], "macos", "0.062"),
        (["macos-15"], "macos", "0.062"),
        (["macos-14"], "macos", "0.062"),
        (["macos-13"], "macos", "0.062"),
        (["macos-latest-large"], "macos_l", "0.077"),
        (["macos-15-large"], "macos_l", "0.077"),
        (["macos-14-xlarge"], "macos_xl", "0.102"),
        (["macos-latest-xlarge"], "macos_xl", "0.102"),
        (["self-hosted", "linux", "x64", "gpu"], "self_hosted", "0.002"),
        (["linux", "self-hosted"], "self_hosted", "0.002"),
        ("ubuntu-latest", "linux", "0.006"),
    ],
)
def test_standard_labels_map_to_skus(labels: list[str], sku: str, rate: str) -> None:
    assert rate_for_labels(labels) == (sku, Decimal(rate))


@pytest.mark.parametrize(
    "labels",
    [[], ["ubuntu-latest-16-cores"], ["my-org-big-runner"], ["windows-11-arm"], ["linux"]],
)
def test_unknown_labels_have_no_rate(labels: list[str]) -> None:
    assert rate_for_labels(labels) is None


def test_public_repositories_run_standard_and_self_hosted_runners_free() -> None:
    assert rate_for_labels(["ubuntu-latest"], private=False) == ("linux", Decimal(0))
    assert rate_for_labels(["macos-15"], private=False) == ("macos", Decimal(0))
    assert rate_for_labels(["self-hosted", "linux"], private=False) == ("self_hosted", Decimal(0))


def test_public_repositories_pay_for_larger_runners() -> None:
    assert rate_for_labels(["macos-15-xlarge"], private=False) == ("macos_xl", Decimal("0.102"))
    assert rate_for_labels(["macos-14-large"], private=False) == ("macos_l", Decimal("0.077"))
    overrides = {"big-linux": "linux_16_core"}
    assert rate_for_labels(["big-linux"], overrides, private=False) == (
        "linux_16_core",
        Decimal("0.042"),
    )


def test_overrides_take_precedence_and_name_the_label() -> None:
    overrides = parse_rate_overrides({"GPU-Box": "0.30", "big-linux": "linux_16_core"})
    assert overrides == {"gpu-box": Decimal("0.3"), "big-linux": "linux_16_core"}
    assert rate_for_labels(["self-hosted", "gpu-box"], overrides) == (
        "custom:gpu-box",
        Decimal("0.3"),
    )
    assert rate_for_labels(["Big-Linux"], overrides) == ("linux_16_core", Decimal("0.042"))
    assert rate_for_labels(["gpu-box"], overrides, private=False) == (
        "custom:gpu-box",
        Decimal("0.3"),
    )
    # an override may also re-price a standard label
    assert rate_for_labels(["ubuntu-latest"], {"ubuntu-latest": Decimal("0.001")}) == (
        "custom:ubuntu-latest",
        Decimal("0.001"),
    )


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"big": "linux_17_core"}, "big", "must be a plain decimal number like 0.10"),
        ({"big": 0.5}, "big", "use a string or exact number, not a float"),
        ({"": "linux"}, "", "a runner label must be 1-200 characters"),
        (["big"], "", "must be an object, not a list"),
    ],
)
def test_parse_rate_overrides_refuses(value: object, path: str, reason: str) -> None:
    got_path, got_reason = reason_of(parse_rate_overrides, value)
    assert (got_path, got_reason.split(";")[0]) == (path, reason)


def test_parse_rate_overrides_suggests_sku_names() -> None:
    _, reason = reason_of(parse_rate_overrides, {"big": "linux_17_core"})
    assert reason.endswith("give a per-minute USD rate or a SKU such as linux_16_core")


@pytest.mark.parametrize(
    ("labels", "path"),
    [([1], "labels[0]"), (["ubuntu-latest", None], "labels[1]"), (None, "labels")],
)
def test_labels_must_be_strings(labels: object, path: str) -> None:
    assert reason_of(rate_for_labels, labels)[0] == path


# --- minutes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started", "completed", "minutes"),
    [
        ("2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z", 4),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:00:51Z", 0),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:00:52Z", 1),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:01:51Z", 1),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:01:52Z", 2),
        ("2019-08-08T08:00:51.000Z", "2019-08-08T08:01:51.001Z", 2),
        ("2019-08-08T10:00:51+02:00", "2019-08-08T08:01:51Z", 1),
        ("2019-08-08T23:59:00-05:00", "2019-08-09T05:00:00+00:00", 1),
        ("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z", 360),
    ],
)
def test_job_minutes_round_each_job_up(started: str, completed: str, minutes: int) -> None:
    assert job_minutes(started, completed) == minutes


@pytest.mark.parametrize(
    ("started", "completed", "path", "reason"),
    [
        ("yesterday", "2019-08-08T08:00:51Z", "started_at", "must be an ISO 8601 timestamp"),
        ("2019-08-08T08:00:51", "2019-08-08T08:01:51Z", "started_at", "needs a time zone"),
        ("2019-08-08T08:00:51Z", None, "completed_at", "must be an ISO 8601 timestamp, not null"),
        ("2019-08-08T08:00:51Z", 1565251251, "completed_at", "must be an ISO 8601 timestamp"),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:00:50Z", "completed_at", "is before started_at"),
        ("2019-08-08T08:00:51Z", "2019-09-13T08:00:51Z", "completed_at", "is more than 35 days"),
        ("2019-08-08T08:00:51Z", "2019-08-08T08:00:51Z" + " " * 60, "completed_at", "must be"),
    ],
)
def test_job_minutes_refuses_bad_times(
    started: object, completed: object, path: str, reason: str
) -> None:
    got_path, got_reason = reason_of(job_minutes, started, completed)
    assert got_path == path
    assert got_reason.startswith(reason)


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=35 * 24 * 3600 * 10**6),
)
def test_job_minutes_is_the_ceiling_of_the_duration(start: datetime, micros: int) -> None:
    end = start + timedelta(microseconds=micros)
    assert job_minutes(start.isoformat(), end.isoformat()) == math.ceil(
        Fraction(micros, 60 * 10**6)
    )


# --- cost --------------------------------------------------------------------------


def test_job_cost_of_a_private_linux_job() -> None:
    cost = job_cost(["ubuntu-latest"], "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z")
    assert cost == {
        "minutes": 4,
        "sku": "linux",
        "rate": "0.006",
        "amount": "0.024",
        "currency": "USD",
    }


def test_job_cost_of_a_public_linux_job_is_recorded_as_zero() -> None:
    cost = job_cost(
        ["ubuntu-latest"], "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z", private=False
    )
    assert cost == {"minutes": 4, "sku": "linux", "rate": "0", "amount": "0", "currency": "USD"}


def test_job_cost_of_larger_and_custom_runners() -> None:
    assert job_cost(["macos-15-xlarge"], "2024-05-01T12:00:00Z", "2024-05-01T13:29:01Z") == {
        "minutes": 90,
        "sku": "macos_xl",
        "rate": "0.102",
        "amount": "9.18",
        "currency": "USD",
    }
    overrides = parse_rate_overrides({"win-64": "windows_64_core"})
    cost = job_cost(["win-64"], "2024-05-01T12:00:00Z", "2024-05-01T12:10:00Z", overrides=overrides)
    assert cost is not None
    assert (cost["sku"], cost["amount"]) == ("windows_64_core", "3.22")


def test_job_cost_multiplies_exactly_beyond_default_precision() -> None:
    rate = "123456789012345678901234567890.123456789012345678"
    overrides = parse_rate_overrides({"exotic": rate})
    cost = job_cost(["exotic"], "2024-05-01T12:00:00Z", "2024-05-01T12:06:30Z", overrides=overrides)
    assert cost is not None
    assert cost["minutes"] == 7
    assert cost["amount"] == "864197523086419752308641975230.864197523086419746"
    assert Fraction(str(cost["amount"])) == Fraction(rate) * 7


def test_job_cost_unknown_runner_is_none_but_times_are_still_checked() -> None:
    assert job_cost(["my-runner"], "2024-05-01T12:00:00Z", "2024-05-01T12:01:00Z") is None
    path, _ = reason_of(job_cost, ["my-runner"], "2024-05-01T12:00:00Z", "soon")
    assert path == "completed_at"
