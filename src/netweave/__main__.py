"""`python -m netweave` is the `netweave` command."""

from netweave.cli.main import app

app(prog_name="netweave")
