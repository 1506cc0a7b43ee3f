"""The `zoo` command line: a thin layer over the library API.

Bad input (unknown model, bad option) exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
from typing import Any

import typer

from .._errors import ZooError
from .._files import write_failure

# Each module adds its commands to `app`; heavy imports stay inside the command functions.
from . import campaign, check, convert, evaluate, grow, hub, models, recipes, study, train  # noqa: E402,F401
from ._app import ClickException, CliUsageError, UsageError, app

# `zoo --help` lists commands in these groups, in this order.
COMMAND_GROUPS = {
    "Models": ("list", "info", "plugins", "check", "bench"),
    "Training": ("train", "recipes", "eval", "study", "campaign"),
    "Weights": ("pull", "push", "convert", "grow"),
}


def _tidy_help(group: Any) -> None:
    """Group and order the commands; show arguments as NAME and flags without a ``<bool>`` type."""
    order = [name for names in COMMAND_GROUPS.values() for name in names]
    panels = {name: panel for panel, names in COMMAND_GROUPS.items() for name in names}
    group.commands = dict(
        sorted(
            group.commands.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)
        )
    )
    for name, command in group.commands.items():
        command.rich_help_panel = panels.get(name, "Other")  # a command not listed above still shows
        _tidy_params(group, command)


def _tidy_params(group: Any, command: Any) -> None:
    """Flags without a ``<bool>`` type and arguments as NAME, in `command` and, for a group such
    as `zoo study`, in each of its subcommands."""
    helps = [c.get_help_option(typer.Context(c)) for c in (group, command)]  # created once, cached
    for param in [*group.params, *command.params, *filter(None, helps)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.metavar or param.name.upper()
            usage = (param.metavar if param.required else f"[{param.metavar}]") + "..." * (param.nargs != 1)
            param.get_usage_pieces = lambda ctx, usage=usage: [usage]  # not typer's "{model}"
    for sub in getattr(command, "commands", {}).values():
        _tidy_params(command, sub)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"zoo: error: {message}", err=True)
    sys.exit(code)


PRINTERS = ("click", "rich", "typer")  # whose writes are a command's output (typer may vendor click)


def _printing(error: OSError) -> bool:
    """Whether `error` came from printing, to stdout or stderr (where stderr failed, no line is read)."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    module = frame.tb_frame.f_globals.get("__name__", "") if frame is not None else ""
    return module.partition(".")[0] in PRINTERS


def _output_failed(error: OSError) -> None:
    """A redirected stdout that could not be written (`zoo campaign status --json > s.json` on a full
    disk): one line naming its file, not Python's "Exception ignored" at exit or a bare strerror."""
    try:
        where = os.readlink(f"/proc/self/fd/{sys.stdout.fileno()}")  # the file, where Linux says
    except (OSError, ValueError):
        where = "the standard output"
    try:  # what is left in the buffer goes nowhere at exit, instead of failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    kept = "what the command printed there is cut short"
    _fail(write_failure(where, error.strerror or str(error), error.errno, kept), 1)


def _finite_numbers(group: Any) -> None:
    """Every number option of every command must be finite (parsing accepts inf and nan)."""
    for command in group.commands.values():
        if hasattr(command, "commands"):  # a group (`zoo study`, `zoo campaign`): its subcommands
            _finite_numbers(command)
        if command.callback is None:
            continue
        names = {p.name: (p.opts or [p.name])[0] for p in command.params}

        @functools.wraps(command.callback)
        def checked(*args, _callback=command.callback, _names=names, **kwargs):
            for name, value in kwargs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise CliUsageError(
                        f"{_names.get(name, name)} {value!r} is not a finite number: give one"
                    )
            return _callback(*args, **kwargs)

        command.callback = checked


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
    _tidy_help(command)
    _finite_numbers(command)
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
        _fail(str(error), getattr(error, "exit_code", 2))
    except OSError as error:  # the environment (a full disk, a permission) where no command checked
        if error.filename is None and _printing(error):
            _output_failed(error)
        where = f": {error.filename}" if error.filename else ""
        _fail(f"{error.strerror or error}{where}", 1)
    try:
        sys.stdout.flush()  # here, not at exit, where a failure is a Python warning
    except OSError as error:
        _output_failed(error)
    if code == 130:  # typer turned a Ctrl-C inside a command into Exit(130), silently
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)
