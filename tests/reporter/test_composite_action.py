"""The composite action and the example workflow: linted, cross-checked, and run.

actionlint itself cannot be installed here (see README, "Linting the workflows"),
so the files are validated against the JSON schemas for workflows and actions that
check-jsonschema ships (offline), and the checks a schema cannot do are done here:
inputs and step outputs that exist, and `report` arguments the CLI accepts.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import report
from bot.store.base import RunFilter
from tests.support.bot import REPO, Bot
from tests.support.reporter_kit import STATIC

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "workflows" / "report" / "action.yml"
EXAMPLES = sorted((ROOT / "workflows" / "examples").glob("*.yml"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    # PyYAML reads a bare `on:` key as True; GitHub reads it as "on".
    data = yaml.safe_load(path.read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def schema_check(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_there_is_something_to_check() -> None:
    assert ACTION.exists() and EXAMPLES


def test_files_match_githubs_schemas() -> None:
    result = schema_check("vendor.github-actions", ACTION)
    assert result.returncode == 0, result.stdout + result.stderr
    result = schema_check("vendor.github-workflows", *EXAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_mistakes(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(EXAMPLES[0].read_text().replace("runs-on:", "runs_on:"))
    result = schema_check("vendor.github-workflows", broken)
    assert result.returncode == 1 and "runs-on" in result.stdout
    action = tmp_path / "action.yml"
    action.write_text(ACTION.read_text().replace("      shell: bash\n", ""))
    assert schema_check("vendor.github-actions", action).returncode == 1


def test_action_expressions_name_declared_inputs_and_steps() -> None:
    action = load(ACTION)
    inputs = set(action["inputs"])
    steps = {step.get("id") for step in action["runs"]["steps"]}
    text = ACTION.read_text()
    for expression in EXPRESSION.findall(text):
        for name in re.findall(r"inputs\.([\w-]+)", expression):
            assert name in inputs, expression
        for step in re.findall(r"steps\.([\w-]+)\.", expression):
            assert step in steps, expression
    # inputs reach the script through env, never pasted into the shell command
    for step in action["runs"]["steps"]:
        assert "${{" not in step["run"]


def report_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], set[str]]]:
    """(job, step, ids of the steps before it) for every step using the action."""
    found = []
    for job_name, job in workflow["jobs"].items():
        seen: set[str] = set()
        for step in job["steps"]:
            if str(step.get("uses", "")).split("@")[0].endswith("/workflows/report"):
                found.append((job_name, step, set(seen)))
            if "id" in step:
                seen.add(step["id"])
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_call_the_action_with_arguments_the_cli_accepts(example: Path) -> None:
    workflow = load(example)
    action = load(ACTION)
    required = {name for name, spec in action["inputs"].items() if spec.get("required")}
    steps = report_steps(workflow)
    assert {step["with"]["command"] for _, step, _ in steps} >= {"open", "spend", "proof", "close"}
    for job_name, step, before in steps:
        given = set(step["with"])
        assert required <= given and given <= set(action["inputs"]), (job_name, step)
        args = str(step["with"].get("args", ""))
        for expression in EXPRESSION.findall(args):
            for ref in re.findall(r"steps\.([\w-]+)\.outputs", expression):
                assert ref in before, f"{example.name}: {ref} is not an earlier step"
        # what the runner would pass once the expressions are filled in
        filled = EXPRESSION.sub(_sample, args)
        parser = _parser()
        parsed = parser.parse_args(["report", step["with"]["command"], *shlex.split(filled)])
        assert parsed.action == step["with"]["command"]
    permissions = next(iter(workflow["jobs"].values())).get("permissions", {})
    assert permissions.get("id-token") == "write"


def _sample(match: re.Match[str]) -> str:
    """A value of the kind the expression yields at run time."""
    expression = match.group(1)
    if "sha" in expression:
        return "0123456789abcdef0123456789abcdef01234567"
    quoted = re.findall(r"'([^']*)'", expression)
    return quoted[1] if "job.status" in expression and len(quoted) > 1 else "1"


def _parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="audit-bot", exit_on_error=False)
    report.add_parser(parser.add_subparsers(dest="command"))
    return parser


async def run_action(
    tmp_path: Path, bot: Bot, command: str, args: str, **inputs: str
) -> tuple[int, str, Path]:
    """The action's own step, as the runner runs it: `python3 -S run.py` with env inputs."""
    output = tmp_path / "output"
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_ACTION_PATH": str(ACTION.parent),
        "AUDIT_BOT_TOKEN": STATIC,
        "REPORT_COMMAND": command,
        "REPORT_ARGS": args,
        "REPORT_BOT_URL": bot.url,
        "REPORT_STRICT": "true",
        **inputs,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-S",  # no site-packages: the standard library only, like a bare runner
        str(ACTION.parent / "run.py"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode(), output


async def test_the_action_runs_with_the_standard_library_only(
    tmp_path: Path, reporter_bot: Bot
) -> None:
    code, out, output = await run_action(
        tmp_path,
        reporter_bot,
        "open",
        f'--kind review --name "AI review; $(touch {tmp_path}/pwned)" --repo {REPO} --pr 2',
    )
    assert code == 0, out
    run_id = out.strip()
    assert f"run-id={run_id}\n" in output.read_text()
    assert not (tmp_path / "pwned").exists()  # args are split, never executed
    code, out, _ = await run_action(
        tmp_path,
        reporter_bot,
        "spend",
        f"--run-id {run_id} --amount 0.10 --currency USD --category llm",
    )
    assert code == 0, out
    [run] = await reporter_bot.store.list_runs(RunFilter(repo=REPO))
    assert run["name"] == f"AI review; $(touch {tmp_path}/pwned)"
    assert run["spend"] == {"USD": "0.1"}
    code, out, _ = await run_action(tmp_path, reporter_bot, "spend", '--amount "0.1')
    assert code == 1 and "cannot split the args input" in out


PAID_STEP = "Call a paid lint API (x402) and keep its settlement header"
PAID_ARGS = ("--x402", "--amount 0.25")  # the steps that report the paid call
FAKE_CURL = """#!/bin/sh
# Writes the response headers where -D asks, with the header in $PAID_HEADER if set.
while [ $# -gt 0 ]; do
  if [ "$1" = "-D" ]; then shift; out="$1"; fi
  shift
done
printf 'HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n' > "$out"
if [ -n "$PAID_HEADER" ]; then printf '%s\\r\\n' "$PAID_HEADER" >> "$out"; fi
printf '\\r\\n' >> "$out"
"""


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("PAYMENT-RESPONSE: eyJzdWNjZXNzIjp0cnVlfQ==", "eyJzdWNjZXNzIjp0cnVlfQ=="),
        ("x-payment-response: eyJ2MSI6dHJ1ZX0=", "eyJ2MSI6dHJ1ZX0="),
        ("", None),  # no settlement: no file, so the spend and proof steps are skipped
    ],
)
def test_the_example_keeps_a_settlement_header_only_when_there_is_one(
    tmp_path: Path, header: str, kept: str | None
) -> None:
    steps = load(EXAMPLES[0])["jobs"]["review"]["steps"]
    [step] = [s for s in steps if s.get("name") == PAID_STEP]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    for shell in (["bash", "-e"], ["bash", "-eo", "pipefail"]):  # unspecified, `shell: bash`
        result = subprocess.run(
            [*shell, str(script)],
            cwd=tmp_path,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin", "PAID_HEADER": header, **step["env"]},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        saved = tmp_path / "payment-response.txt"
        assert (saved.read_text() if saved.exists() else None) == kept
        saved.unlink(missing_ok=True)
    paid = [s for s in steps if str(s.get("with", {}).get("args", "")).startswith(PAID_ARGS)]
    assert len(paid) == 2
    for later in paid:
        assert later.get("if") == "hashFiles('payment-response.txt') != ''", later
