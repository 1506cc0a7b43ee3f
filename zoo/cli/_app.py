"""The typer application every command module adds its commands to, and the CLI's error types."""

from __future__ import annotations

import typer

from .._version import __version__

# Newer typer vendors its own click; reach its exception classes through the public BadParameter.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class CliUsageError(UsageError):
    """Bad command-line input found inside a command: exit code 2, one line."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zoo {__version__}")
        raise typer.Exit()


app = typer.Typer(
    help="A plugin-based model zoo for CIFAR-10 and MNIST.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A plugin-based model zoo for CIFAR-10 and MNIST."""
