"""What a CI job cost on GitHub's meter, estimated from its runner labels and times.

GitHub is closing the per-run usage endpoints, so the bot prices jobs itself from
``workflow_job`` events: minutes (each job rounded up to a whole minute) times the
per-minute rate of the runner's billing SKU. Rates are GitHub's list prices from
1 January 2026, in USD; SKU names follow GitHub's billing SKUs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType

from bot.trail.money import EXACT, canonical_amount, parse_amount
from bot.trail.validation import InvalidInput, at, kind_of, require_mapping

CURRENCY = "USD"
MAX_JOB_DURATION = timedelta(days=35)  # GitHub cancels workflow runs older than this

RATES: Mapping[str, Decimal] = MappingProxyType(
    {
        # standard GitHub-hosted runners
        "linux_slim": Decimal("0.002"),  # 1-core (ubuntu-slim)
        "linux": Decimal("0.006"),  # 2-core
        "linux_arm": Decimal("0.005"),  # arm64 2-core
        "windows": Decimal("0.010"),  # 2-core
        "macos": Decimal("0.062"),  # 3- or 4-core
        # larger runners (custom labels: reach them through overrides)
        "linux_4_core": Decimal("0.012"),
        "linux_8_core": Decimal("0.022"),
        "linux_16_core": Decimal("0.042"),
        "linux_32_core": Decimal("0.082"),
        "linux_64_core": Decimal("0.162"),
        "linux_96_core": Decimal("0.252"),
        "windows_4_core": Decimal("0.022"),
        "windows_8_core": Decimal("0.042"),
        "windows_16_core": Decimal("0.082"),
        "windows_32_core": Decimal("0.162"),
        "windows_64_core": Decimal("0.322"),
        "windows_96_core": Decimal("0.552"),
        "linux_2_core_arm": Decimal("0.005"),
        "linux_4_core_arm": Decimal("0.008"),
        "linux_4_core_gpu": Decimal("0.052"),
        "windows_4_core_gpu": Decimal("0.102"),
        "macos_l": Decimal("0.077"),  # 12-core, macos-*-large
        "macos_xl": Decimal("0.102"),  # M2 Pro 5-core, macos-*-xlarge
        # your own machines: GitHub's platform charge only
        "self_hosted": Decimal("0.002"),
    }
)

# Free in public repositories: standard hosted runners, and the self-hosted platform
# charge (GitHub bills it for private and internal repositories only).
FREE_IN_PUBLIC = frozenset({"linux_slim", "linux", "linux_arm", "windows", "macos", "self_hosted"})

# Label → SKU for GitHub's own labels, tried in order; versions are patterns so a
# new image (ubuntu-26.04, macos-26) is priced without a release of the bot.
HOSTED_LABELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"ubuntu-slim"), "linux_slim"),
    (re.compile(r"ubuntu-[0-9]+\.[0-9]+-arm"), "linux_arm"),
    (re.compile(r"ubuntu-(?:latest|[0-9]+\.[0-9]+)"), "linux"),
    (re.compile(r"windows-(?:latest|[0-9]{4})"), "windows"),
    (re.compile(r"macos-(?:latest|[0-9]+)-xlarge"), "macos_xl"),
    (re.compile(r"macos-(?:latest|[0-9]+)-large"), "macos_l"),
    (re.compile(r"macos-(?:latest|[0-9]+)"), "macos"),
)

Override = Decimal | str  # a per-minute USD rate, or the name of a SKU in RATES


def parse_rate_overrides(value: object) -> dict[str, Override]:
    """Operator configuration mapping custom runner labels to a rate or a SKU.

    ``{"big-linux": "linux_16_core", "gpu-box": "0.3"}``: a SKU name (from ``RATES``)
    is kept as the name, anything else must be a per-minute amount in USD. Labels
    are matched case-insensitively, as GitHub does, so they are stored lowercase.
    """
    overrides: dict[str, Override] = {}
    for label, rate in require_mapping(value).items():
        key = str(label)
        if not isinstance(label, str) or not 0 < len(label) <= 200:
            raise InvalidInput(key, "a runner label must be 1-200 characters")
        if isinstance(rate, str) and rate in RATES:
            overrides[label.lower()] = rate
        else:
            overrides[label.lower()] = at(key, _override_rate, rate)
    return overrides


def _override_rate(value: object) -> Decimal:
    """A per-minute rate, with a reason that also offers the SKU names."""
    try:
        return parse_amount(value)
    except InvalidInput as error:
        raise InvalidInput(
            "", f"{error.reason}; give a per-minute USD rate or a SKU such as linux_16_core"
        ) from None


def rate_for_labels(
    labels: Sequence[str] | str,
    overrides: Mapping[str, Override] | None = None,
    *,
    private: bool = True,
) -> tuple[str, Decimal] | None:
    """The billing SKU and per-minute USD rate of the runner a job asked for.

    Precedence: an operator override for any of the labels (first label wins), then
    ``self-hosted``, then GitHub's standard labels. A numeric override is reported as
    SKU ``custom:<label>`` and always charged; an override naming a SKU behaves like
    that SKU. In public repositories standard runners and self-hosted runners cost 0
    (still returned, so the job is recorded as free rather than unknown), while
    larger runners are charged. Unknown labels (custom larger-runner names without
    an override) give None: the caller records the duration without a cost.
    A single string is taken as one label rather than as a list of characters.
    """
    names = _label_names([labels] if isinstance(labels, str) else labels)
    found = _override_for(names, overrides or {}) or _sku_for(names)
    if found is None:
        return None
    sku, rate = found
    if not private and sku in FREE_IN_PUBLIC:
        return sku, Decimal(0)
    return sku, rate


def _label_names(labels: Sequence[object]) -> list[str]:
    """Lowercased labels; anything but a string is a clear error."""
    if not isinstance(labels, Sequence):
        raise InvalidInput("labels", f"must be a list of strings, not {kind_of(labels)}")
    names = []
    for index, label in enumerate(labels):
        if not isinstance(label, str):
            raise InvalidInput(f"labels[{index}]", f"must be a string, not {kind_of(label)}")
        names.append(label.lower())
    return names


def _override_for(
    names: Sequence[str], overrides: Mapping[str, Override]
) -> tuple[str, Decimal] | None:
    """The first label the operator priced explicitly."""
    lowered = {label.lower(): rate for label, rate in overrides.items()}
    for name in names:
        if name not in lowered:
            continue
        rate = lowered[name]
        if isinstance(rate, str):
            if rate not in RATES:
                raise InvalidInput(f"overrides.{name}", f"unknown SKU {rate!r}")
            return rate, RATES[rate]
        return f"custom:{name}", rate
    return None


def _sku_for(names: Sequence[str]) -> tuple[str, Decimal] | None:
    """GitHub's own labels: ``self-hosted`` first, then the first hosted match."""
    if "self-hosted" in names:
        return "self_hosted", RATES["self_hosted"]
    for name in names:
        for pattern, sku in HOSTED_LABELS:
            if pattern.fullmatch(name):
                return sku, RATES[sku]
    return None


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 time with a zone: GitHub's ``2019-08-08T08:00:51Z`` or an offset."""
    if not isinstance(value, str):
        raise InvalidInput("", f"must be an ISO 8601 timestamp, not {kind_of(value)}")
    try:
        moment = datetime.fromisoformat(value) if len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidInput("", "must be an ISO 8601 timestamp like 2019-08-08T08:00:51Z")
    if moment.tzinfo is None:
        raise InvalidInput("", "needs a time zone (Z or an offset like +02:00)")
    return moment


def job_minutes(started_at: object, completed_at: object) -> int:
    """Billable minutes: the duration rounded up to a whole minute, as GitHub bills.

    1 second is 1 minute; exactly 0 seconds is 0. A job ending before it started,
    or lasting longer than GitHub lets a run live (35 days), is refused.
    """
    start = at("started_at", parse_timestamp, started_at)
    end = at("completed_at", parse_timestamp, completed_at)
    duration = end - start
    if duration < timedelta(0):
        raise InvalidInput("completed_at", "is before started_at")
    if duration > MAX_JOB_DURATION:
        raise InvalidInput("completed_at", "is more than 35 days after started_at")
    return -(-duration // timedelta(minutes=1))


def job_cost(
    labels: Sequence[str] | str,
    started_at: object,
    completed_at: object,
    *,
    private: bool = True,
    overrides: Mapping[str, Override] | None = None,
) -> dict[str, str | int] | None:
    """The estimated cost of one job, or None when its runner has no known rate.

    ``{"minutes": 4, "sku": "linux", "rate": "0.006", "amount": "0.024",
    "currency": "USD"}`` with amounts as canonical strings. Timestamps are checked
    even when the rate is unknown, so bad input never passes silently.
    """
    minutes = job_minutes(started_at, completed_at)
    found = rate_for_labels(labels, overrides, private=private)
    if found is None:
        return None
    sku, rate = found
    return {
        "minutes": minutes,
        "sku": sku,
        "rate": canonical_amount(rate),
        "amount": canonical_amount(EXACT.multiply(rate, Decimal(minutes))),
        "currency": CURRENCY,
    }
