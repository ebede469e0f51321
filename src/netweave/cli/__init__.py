"""The command-line interface: `netweave` (see `netweave.cli.main`)."""
