"""The signed checkpoint in the comment and the spend check reads back as it was signed."""

from __future__ import annotations

from dataclasses import replace

from bot.render.log_stamp import LogStamp, check_text, published_notes
from bot.render.spend_check import spend_check
from bot.render.summary import render_summary
from bot.trail import checkpoint as cp
from tests.render.summary_cases import LOG_SIGNER, signed_log, signed_log_pending


def test_the_comment_carries_the_note_byte_for_byte() -> None:
    runs, options = signed_log()
    assert options.log is not None and options.log.note is not None
    body = render_summary("octo/widgets", 7, runs, options)
    assert published_notes(body) == [options.log.note]
    assert published_notes(body.replace("\n", "\r\n")) == [options.log.note]
    [signature] = [line for line in options.log.note.splitlines() if line.startswith("— ")]
    name = signature.split(" ")[1]
    checkpoint = cp.parse_checkpoint_body(cp.open_note(options.log.note, [LOG_SIGNER.verifier])[0])
    assert (name, checkpoint.size) == ("audit.example.org/audit-bot", 1234)


def test_pending_and_no_log_carry_no_note() -> None:
    runs, options = signed_log_pending()
    assert published_notes(render_summary("octo/widgets", 7, runs, options)) == []
    assert (
        published_notes(render_summary("octo/widgets", 7, runs, replace(options, log=None))) == []
    )
    assert check_text(LogStamp(None)) is None


def test_a_note_outside_the_bots_block_is_not_read() -> None:
    _, options = signed_log()
    assert options.log is not None and options.log.note is not None
    loose = f"```text\n{options.log.note}```"  # no marker: someone quoting it
    assert published_notes(loose) == []


def test_the_spend_check_carries_the_note_without_costing_a_write() -> None:
    runs, options = signed_log()
    with_log = spend_check(runs, options)
    without = spend_check(runs, replace(options, log=None))
    assert with_log is not None and without is not None
    assert published_notes(with_log.payload()["output"]["text"]) == [options.log.note]  # type: ignore[union-attr]
    assert "text" not in without.payload()["output"]
    # a grown log alone is not a change worth a write; a spend change carries the newest
    assert with_log.digest() == without.digest()
