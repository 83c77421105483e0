"""Token-priced spend through the real reporter API, and its `priced_by` in the chain."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import genai_prices
import pytest

from tests.cli.test_trail_commands import audit_bot, cli
from tests.support.bot import REPO, Bot
from tests.support.oidc_issuer import LocalIssuer
from tests.support.reporter_kit import STATIC, oidc_env, post

PRICED_BY = {
    "package": "genai-prices",
    "version": genai_prices.__version__,
    "provider": "openai",
    "model": "gpt-4o",
}
# gpt-4o in the table: input 2.5, cache read 1.25, output 10 USD per million tokens.
# 8,000 × 2.5 + 4,000 × 1.25 + 1,500 × 10 = 40,000 / 1M = 0.04
GPT_4O_CALL = {
    "model": "gpt-4o",
    "provider": "openai",
    "input_tokens": 12_000,
    "cache_read_tokens": 4_000,
    "output_tokens": 1_500,
}


async def open_agent(bot: Bot) -> str:
    status, opened = await post(bot, "/api/runs", {"kind": "agent", "repo": REPO}, STATIC)
    assert status == 201, opened
    return opened["id"]


async def spends(bot: Bot, run_id: str) -> list[dict[str, Any]]:
    return [e.data for e in await bot.store.get_events(run_id) if e.type == "spend"]


async def test_token_only_spend_is_priced_and_committed_with_priced_by(
    reporter_bot: Bot,
) -> None:
    run_id = await open_agent(reporter_bot)
    event = {"type": "spend", "at": "2026-11-20T10:00:00Z", **GPT_4O_CALL}
    status, answer = await post(
        reporter_bot, f"/api/runs/{run_id}/events", {"events": [event]}, STATIC
    )
    assert status == 201, answer
    assert answer["spend"] == {"USD": "0.04"}
    [spend] = await spends(reporter_bot, run_id)
    assert spend == {
        **GPT_4O_CALL,
        "amount": "0.04",
        "currency": "USD",
        "category": "llm",
        "priced_by": PRICED_BY,
    }


async def test_events_in_the_open_call_are_priced_too(reporter_bot: Bot) -> None:
    body = {"kind": "agent", "repo": REPO, "events": [{"type": "spend", **GPT_4O_CALL}]}
    status, opened = await post(reporter_bot, "/api/runs", body, STATIC)
    assert status == 201, opened
    [spend] = await spends(reporter_bot, opened["id"])
    assert spend["amount"] == "0.04" and spend["priced_by"] == PRICED_BY


async def test_unknown_model_is_422_naming_the_field_and_nothing_is_written(
    reporter_bot: Bot,
) -> None:
    run_id = await open_agent(reporter_bot)
    before = await reporter_bot.store.get_events(run_id)
    batch = {
        "events": [
            {"type": "note", "text": "fine on its own"},
            {"type": "spend", **GPT_4O_CALL},
            {"type": "spend", "model": "in-house-llm-7", "input_tokens": 10},
        ]
    }
    status, answer = await post(reporter_bot, f"/api/runs/{run_id}/events", batch, STATIC)
    assert status == 422, answer
    [error] = answer["errors"]
    assert error["path"] == "events[2].model"
    assert "in-house-llm-7" in error["reason"] and "amount" in error["reason"]
    assert await reporter_bot.store.get_events(run_id) == before  # all or nothing


async def test_amount_and_model_keeps_both(reporter_bot: Bot) -> None:
    run_id = await open_agent(reporter_bot)
    event = {"type": "spend", "amount": "0.05", "currency": "USD", **GPT_4O_CALL}
    status, answer = await post(
        reporter_bot, f"/api/runs/{run_id}/events", {"events": [event]}, STATIC
    )
    assert status == 201, answer
    assert answer["spend"] == {"USD": "0.05"}  # the reported amount is what counts
    [spend] = await spends(reporter_bot, run_id)
    assert (spend["amount"], spend["computed_amount"], spend["computed_currency"]) == (
        "0.05",
        "0.04",
        "USD",
    )
    assert spend["priced_by"] == PRICED_BY


async def test_operator_prices_override_the_table(
    make_bot: Callable[..., Any], issuer: LocalIssuer
) -> None:
    env = oidc_env(
        issuer, AUDIT_MODEL_PRICES="openai gpt-4o = input 1, output 2; x-llm = input 3, output 4"
    )
    bot = await make_bot(**env)
    run_id = await open_agent(bot)
    events = [
        {"type": "spend", **GPT_4O_CALL},  # 12,000 × 1 + 1,500 × 2 = 15,000 / 1M
        {"type": "spend", "model": "X-LLM", "input_tokens": 1_000_000},  # 3
    ]
    status, answer = await post(bot, f"/api/runs/{run_id}/events", {"events": events}, STATIC)
    assert status == 201, answer
    first, second = await spends(bot, run_id)
    assert first["amount"] == "0.015"
    assert first["priced_by"] == {
        "source": "operator",
        "provider": "openai",
        "model": "gpt-4o",
        "rates": {"input": "1", "output": "2"},
    }
    assert second["amount"] == "3" and second["priced_by"]["model"] == "x-llm"


@pytest.fixture
async def priced_copy(reporter_bot: Bot, tmp_path: Path) -> tuple[str, Path]:
    """A run with one token-priced spend, in a copy of the stopped bot's SQLite file."""
    run_id = await open_agent(reporter_bot)
    event = {"type": "spend", **GPT_4O_CALL}
    status, _ = await post(reporter_bot, f"/api/runs/{run_id}/events", {"events": [event]}, STATIC)
    assert status == 201
    await reporter_bot.settle()
    original = Path(reporter_bot.env["DATABASE_URL"].removeprefix("sqlite:///"))
    await reporter_bot.stop()
    copy = tmp_path / "copy.db"
    with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return run_id, copy


def test_priced_by_is_inside_the_hash_chain(priced_copy: tuple[str, Path]) -> None:
    run_id, copy = priced_copy
    url = f"sqlite:///{copy}"
    assert cli("verify", run_id, "--database", url).returncode == 0
    with sqlite3.connect(copy) as db:
        [(seq, data)] = db.execute(
            "SELECT seq, data FROM events WHERE run_id = ? AND type = 'spend'", (run_id,)
        ).fetchall()
        version = genai_prices.__version__
        assert f'"version":"{version}"' in data.replace(" ", "")
        edited = data.replace(f'"{version}"', '"9.9.9"')  # another table priced it?
        assert edited != data
        db.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = ?", (edited, run_id, seq))
    result = audit_bot("verify", run_id, "--database", url)  # the real command
    assert result.returncode == 1
    assert result.stdout.startswith(f"{run_id}: event {seq}")


# --- the command line --------------------------------------------------------------


async def test_report_spend_with_tokens_and_no_amount(tmp_path: Path, reporter_bot: Bot) -> None:
    from tests.cli.test_report import Job

    env = {"AUDIT_BOT_TOKEN": STATIC, "GITHUB_ACTIONS": ""}
    job = Job(tmp_path, reporter_bot.url, None)
    code, out, err = await job.report("open", "--kind", "agent", "--repo", REPO, **env)
    assert code == 0, err
    run_id = out.strip()
    tokens = ("--input-tokens", "12000", "--cache-read-tokens", "4000", "--output-tokens", "1500")
    code, out, err = await job.report(
        "spend", "--run-id", run_id, "--model", "gpt-4o", "--provider", "openai", *tokens, **env
    )
    assert code == 0, (out, err)
    [spend] = await spends(reporter_bot, run_id)
    assert spend == {**GPT_4O_CALL, "amount": "0.04", "currency": "USD", "category": "llm",
                     "priced_by": PRICED_BY}  # fmt: skip
    code, _, err = await job.report(
        "spend", "--run-id", run_id, "--model", "in-house-llm-7", "--input-tokens", "5", **env
    )
    assert code == 1 and "events[0].model: no price known for model 'in-house-llm-7'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "gpt-4o"], "or --model with token counts"),
        (["--input-tokens", "5"], "or --model with token counts"),
        (["--amount", "1"], "--amount needs --currency"),
    ],
)
def test_report_spend_needs_an_amount_or_a_model_with_tokens(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import report

    with pytest.raises(SystemExit) as exited:  # before any network call
        report.main(["spend", "--run-id", "r", "--url", "http://127.0.0.1:9", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


# --- where the overrides come from -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gpt-4o = input 1", "AUDIT_MODEL_PRICES: [0]: needs output (USD per million tokens)"),
        ("gpt-4o input 1, output 2", "AUDIT_MODEL_PRICES: [0]: expected"),
        ("a = input 1, output 2; b = input 1, output 2,, ", "AUDIT_MODEL_PRICES: [1][2]:"),
        ("a = input 0.1.2, output 2", "AUDIT_MODEL_PRICES: [0][0]: must be a plain decimal"),
    ],
)
def test_a_malformed_operator_price_stops_the_bot_with_one_line(value: str, message: str) -> None:
    from bot.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as caught:
        load_settings({"AUDIT_MODEL_PRICES": value})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_operator_prices_are_read_exactly() -> None:
    from decimal import Decimal

    from bot.config import load_settings

    assert load_settings({}).model_prices is None
    settings = load_settings({"AUDIT_MODEL_PRICES": " my-llm = input 0.10, output 0.4 ; "})
    [entry] = settings.model_prices.entries
    assert (entry.model, entry.provider) == ("my-llm", None)
    assert entry.rates == {"input": Decimal("0.1"), "output": Decimal("0.4")}


def test_the_repository_file_accepts_and_checks_pricing() -> None:
    from decimal import Decimal

    from bot.github.repo_config import parse_repo_config

    config = parse_repo_config(
        "pricing:\n  my-llm: {input: 0.1, output: 0.4}\n  openai gpt-4o: input 2, output 8\n"
    )
    assert config.notices == ()
    mine = config.pricing.find("MY-LLM", "anyone")
    assert mine is not None and mine.rates["input"] == Decimal("0.1")  # YAML 0.1, no float
    assert config.pricing.find("gpt-4o", "openai") is not None
    assert config.pricing.find("gpt-4o", None) is None  # scoped to openai only
    bad = parse_repo_config("pricing:\n  my-llm: {input: 0.1}\n")
    assert bad.notices == (
        "`.github/audit-bot.yml` is ignored: `pricing.my-llm` needs output "
        "(USD per million tokens); defaults apply.",
    )
