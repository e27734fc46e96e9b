"""One module per ``lapor`` subcommand, each with ``register(subparsers)``.

``register`` adds a parser whose ``handler`` default takes the parsed arguments and
returns the exit code.
"""
