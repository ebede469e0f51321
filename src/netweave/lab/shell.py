"""Running system programs: the lab's only way to touch the kernel and Open vSwitch."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from netweave.lab.errors import CommandError

TIMEOUT_S = 60.0


def run(
    argv: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Run `argv` and return its output; raise `CommandError` with its message on failure."""
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandError(argv, -1, f"no answer in {TIMEOUT_S:.0f} s") from None
    except FileNotFoundError:
        raise CommandError(argv, -1, f"{argv[0]} is not installed") from None
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise CommandError(argv, done.returncode, " / ".join(message[-3:]) or "no message")
    return done.stdout


def run_lines(argv: Sequence[str], lines: Sequence[str]) -> None:
    """Feed `lines` to a batch-mode program (``ip -batch -``, ``tc -batch -``)."""
    if lines:
        run(argv, stdin="".join(f"{line}\n" for line in lines))
