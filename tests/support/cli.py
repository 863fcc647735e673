"""The ``tokendesk`` command run in-process for tests, with a transcript of all output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from typer.testing import CliRunner, Result

from tokendesk.cli.main import app

PUBLIC_URL = "https://tokendesk.example.test"


@dataclass
class Cli:
    """Runs ``tokendesk ARGS`` and keeps a transcript of everything it printed."""

    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)
    transcript: list[str] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = self.runner.invoke(app, list(args), input=input, env=self.env)
        self.transcript += [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.stderr
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    @property
    def everything_printed(self) -> str:
        return "\n".join(self.transcript)


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error"), lines[0]
    return lines[0]
