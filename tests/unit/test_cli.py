"""``lapor --help`` and every subcommand's ``--help`` say what they do."""

import pytest

from lapor.cli import build_parser

pytestmark = pytest.mark.unit

EXPECTED = {
    "agencies", "asyncapi", "demo", "dev", "devdb", "dlq", "health", "keygen", "recap", "run",
    "users",
}  # fmt: skip


def _help(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as leaving:
        build_parser().parse_args([*args, "--help"])
    assert leaving.value.code == 0
    return capsys.readouterr().out


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help([], capsys)
    assert "citizens' complaints" in text
    for command in EXPECTED:
        assert f"    {command} " in text or f"    {command}\n" in text, command


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_each_subcommand_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = _help([command], capsys)
    usage, _, description = text.partition("\n\n")
    assert usage.startswith(f"usage: lapor {command}")
    assert len(description.split()) >= 8, f"{command} --help says too little: {text!r}"


def test_run_names_the_services(capsys: pytest.CaptureFixture[str]) -> None:
    assert "{intake,verification,routing,escalation,portal}" in _help(["run"], capsys)
