"""`GET /api/spend` over real HTTP: exact buckets and totals, the read rule (a private
run is never counted for a caller who may not read it, totals included), CSV parsed
back with `csv`, formula cells prefixed, 400s naming the parameter, the OpenAPI shape."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from openapi_schema_validator import OAS31Validator

from bot.http.access import pr_link_token
from bot.trail import events as ev
from bot.trail.money import EXACT
from tests.spend.fixture import PRIVATE, PUBLIC, commands, expected_totals, open_run
from tests.support.bot import SECRET, Bot

ADMIN = "admin-secret-token"
YEAR = "since=2026-01-01&until=2027-01-01"


async def started(make_bot: Any) -> Bot:
    bot = await make_bot(
        AUDIT_ADMIN_TOKEN=ADMIN,
        AUDIT_API_TOKENS=f"reporter-token-1={PRIVATE}",
        AUDIT_OIDC_ENABLED="false",
    )
    for command in commands():
        await bot.store.apply(command)
    return bot


async def get(bot: Bot, path: str, **kwargs: Any) -> tuple[int, Any]:
    return await bot.request("GET", path, **kwargs)


def amounts(body: dict[str, Any]) -> dict[str, Decimal]:
    return {t["currency"]: Decimal(t["amount"]) for t in body["totals"]}


async def test_buckets_totals_and_who_may_read_private_spend(make_bot: Any) -> None:
    bot = await started(make_bot)
    status, body = await get(bot, f"/api/spend?owner=Acme&{YEAR}&interval=month&by=repo")
    assert status == 200, body
    assert amounts(body) == expected_totals({PUBLIC})  # anonymous: no private run
    assert {b["key"].lower() for b in body["buckets"]} == {PUBLIC.lower()}
    oct_usd = [b for b in body["buckets"] if b["start"] == "2026-10-01" and b["currency"] == "USD"]
    assert oct_usd == [
        {
            "start": "2026-10-01",
            "end": "2026-11-01",
            "key": oct_usd[0]["key"],
            "currency": "USD",
            "amount": "1.300000000000000001",
            "runs": 1,
        }
    ]
    both = expected_totals({PUBLIC, PRIVATE})
    admin = {"Authorization": f"Bearer {ADMIN}"}
    _, body = await get(bot, f"/api/spend?owner=acme&{YEAR}&by=repo", headers=admin)
    assert amounts(body) == both
    reporter = {"Authorization": "Bearer reporter-token-1"}
    _, body = await get(bot, f"/api/spend?owner=acme&{YEAR}", headers=reporter)
    assert amounts(body) == both
    token = pr_link_token(SECRET, PRIVATE, 7)
    _, body = await get(bot, f"/api/spend?repo={PRIVATE}&{YEAR}&t={token}")
    assert amounts(body) == expected_totals({PRIVATE})
    wrong = pr_link_token(SECRET, PRIVATE, 8)
    _, body = await get(bot, f"/api/spend?repo={PRIVATE}&{YEAR}&t={wrong}")
    assert body == {"buckets": [], "totals": []}
    _, body = await get(bot, f"/api/spend?repo={PRIVATE}&{YEAR}")
    assert body == {"buckets": [], "totals": []}
    # weeks start on Monday: 2026-11-02 (a Monday) .. 2026-11-09
    _, body = await get(bot, f"/api/spend?repo={PUBLIC}&since=2026-11-01&until=2026-11-08")
    assert [(b["start"], b["end"]) for b in body["buckets"]] == [("2026-11-02", "2026-11-09")]
    _, body = await get(bot, f"/api/spend?repo={PUBLIC}&{YEAR}&currency=EUR&by=model")
    assert body["totals"] == [{"currency": "EUR", "amount": "2.5"}]


async def test_csv_parses_back_and_formula_cells_are_prefixed(make_bot: Any) -> None:
    bot = await started(make_bot)
    await bot.store.apply(
        open_run(
            PUBLIC,
            3,
            "pr",
            False,
            ev.NewEvent(
                ev.SPEND,
                {"amount": "0.5", "currency": "USD", "category": "llm", "model": '=HYPERLINK("x")'},
                at="2026-11-05T00:00:00.000Z",
            ),
            ev.NewEvent(
                ev.SPEND,
                {"amount": "1", "currency": "USD", "category": "llm", "model": '@sum, "quoted"'},
                at="2026-11-05T00:00:00.000Z",
            ),
        )
    )
    for how in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        assert bot.session is not None
        params = {"repo": PUBLIC, "since": "2026-01-01", "until": "2027-01-01", "by": "model"}
        async with bot.session.get(
            f"{bot.url}/api/spend",
            params={**params, **how.get("params", {})},
            headers=how.get("headers", {}),
        ) as response:
            assert response.status == 200
            assert response.content_type == "text/csv"
            text = await response.text()
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["start", "end", "key", "currency", "amount", "runs"]
        _, body = await get(bot, "/api/spend?" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert len(rows) == 1 + len(body["buckets"])
        keys = {row[2] for row in rows[1:]}
        assert '\'=HYPERLINK("x")' in keys and '\'@sum, "quoted"' in keys
        assert "gpt-4o" in keys
        total = Decimal(0)
        for row in rows[1:]:
            if row[3] == "USD":
                total = EXACT.add(total, Decimal(row[4]))
        assert str(total) == next(t for t in body["totals"] if t["currency"] == "USD")["amount"]


async def test_bad_parameters_name_the_parameter_and_answers_fit_the_openapi(
    make_bot: Any,
) -> None:
    bot = await started(make_bot)
    for query, name in (
        ("", "repo"),
        (f"repo={PUBLIC}&owner=acme", "repo"),
        ("owner=-bad-", "owner"),
        (f"repo={PUBLIC}&interval=year", "interval"),
        (f"repo={PUBLIC}&by=colour", "by"),
        (f"repo={PUBLIC}&since=yesterday", "since"),
        (f"repo={PUBLIC}&since=2026-02-01&until=2026-01-01", "until"),
        (f"repo={PUBLIC}&currency=usd$", "currency"),
        (f"repo={PUBLIC}&format=xml", "format"),
        (f"repo={PUBLIC}&colour=red", "colour"),
        (f"repo={PUBLIC}&since=1990-01-01&until=2026-01-01", "since"),
    ):
        status, body = await get(bot, f"/api/spend?{query}")
        assert status == 400 and body["parameter"] == name, (query, body)
    _, spec = await get(bot, "/api/openapi.json")
    op = spec["paths"]["/api/spend"]["get"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    validator = OAS31Validator({"allOf": [ok], "components": spec["components"]})
    for by in ("kind", "category", "model", "repo", "pr"):
        for interval in ("day", "week", "month"):
            status, body = await get(
                bot,
                f"/api/spend?owner=acme&{YEAR}&by={by}&interval={interval}",
                headers={"Authorization": f"Bearer {ADMIN}"},
            )
            assert status == 200
            validator.validate(body)
            assert json.dumps(body)
