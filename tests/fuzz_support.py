"""What the fuzz tests share: running a CLI command in this process with a time limit."""

import signal

from typer.testing import CliRunner


class Hang(BaseException):
    """Raised by the alarm: not an Exception, so nothing in the CLI mistakes it for an error."""


def _alarm(signum, frame):
    raise Hang


def invoke_within(app, args: list[str], seconds: int, env: dict) -> tuple[int | None, str]:
    """``app ARGS`` through typer's runner, stopped after ``seconds``: (exit code, or None for a
    hang; the output, with a line saying so when an exception escaped the command)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        result = CliRunner().invoke(app, args, env=env)
        code, output = result.exit_code, result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output += "\nTraceback (most recent call last): " + repr(result.exception)
    except Hang:
        code, output = None, ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, output
