"""The `zoo` command line: a thin layer over the library API.

Bad input (unknown model, bad option) exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer

from .. import ZooError, __version__

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


# Each module adds its commands to `app`; heavy imports stay inside the command functions.
from . import evaluate, hub, models, train  # noqa: E402,F401


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"zoo: error: {message}", err=True)
    sys.exit(code)


class _StderrLineHandler(logging.Handler):
    """One line per record on whatever sys.stderr is when it is emitted (so redirection is honoured)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"zoo: {record.levelname.lower()}: {record.getMessage()}\n")
        except Exception:
            self.handleError(record)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    logger = logging.getLogger("zoo")
    if not any(isinstance(h, _StderrLineHandler) for h in logger.handlers):
        logger.addHandler(_StderrLineHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="zoo", standalone_mode=False)
    except UsageError as error:
        if not error.format_message():  # `zoo` alone: help was printed already
            sys.exit(error.exit_code)
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        _fail(error.format_message() + hint, error.exit_code)
    except ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except ZooError as error:
        _fail(str(error))
    sys.exit(code if isinstance(code, int) else 0)
