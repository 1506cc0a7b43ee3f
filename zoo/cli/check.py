"""`zoo check`: build a plugin's models and hold each to its spec and to the model contract."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import list_plugins, registry
from ._app import CliUsageError, app


def _targets(names: list[str], all_models: bool) -> tuple[list[str], list[str]]:
    """(models to check, problems of the plugins named): PLUGIN and MODEL names, or the default."""
    records = {r.name: r for r in list_plugins()}
    if all_models:
        return registry().names(), []
    if not names:
        names = [r.name for r in records.values() if not r.builtin and not r.disabled]
        if not names:
            raise CliUsageError(
                "no third-party plugin is installed: name a PLUGIN or MODEL, or give --all for every model"
            )
    models, failed = [], []
    for name in names:
        record = records.get(name)
        if record is None:
            models.append(registry().declared(name).name)  # an unknown name: exit 2 with suggestions
        elif record.error or record.disabled:
            failed.append(f"plugin {name!r}: " + (record.error or "disabled by ZOO_DISABLE_PLUGINS"))
        else:
            models += record.models
    return list(dict.fromkeys(models)), failed


@app.command("check")
def check_command(
    names: list[str] = typer.Argument(
        None, metavar="PLUGIN|MODEL", help="Plugins or models (default: every third-party plugin)."
    ),
    all_models: bool = typer.Option(False, "--all", help="Check every registered model (slow)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Build each model and compare params and MACs with its spec; forward/backward; the model API.

    Exit 1 when anything is wrong; the table says what, and the value to declare.
    """
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from .._contract import check_model

    models, failed = _targets(names or [], all_models)
    console = Console(stderr=True)
    results = []
    for i, name in enumerate(models, 1):
        with console.status(f"checking {name} ({i}/{len(models)})"):
            results.append(check_model(registry().declared(name)))
    if as_json:
        rows = [
            {"model": r.model, "plugin": r.plugin, "measured": r.measured, "problems": r.problems}
            for r in results
        ]
        typer.echo(json.dumps({"models": rows, "plugin_errors": failed}, indent=2))
    else:
        _print(results, failed)
    if failed or not all(r.ok for r in results):
        raise typer.Exit(1)


def _print(results: list, failed: list[str]) -> None:
    table = Table(title=f"{len(results)} models checked", title_justify="left")
    for column, justify in (("model", "left"), ("plugin", "left"), ("params", "right"), ("MACs", "right")):
        table.add_column(column, justify=justify)
    table.add_column("result")
    for r in results:
        declared = registry().declared(r.model)
        figures = [
            Text(
                f"{getattr(declared, k):,}", style="" if r.measured.get(k) == getattr(declared, k) else "red"
            )
            for k in ("params", "macs")
        ]
        verdict = Text("ok", style="green") if r.ok else Text("\n".join(r.problems), style="red")
        table.add_row(r.model, r.plugin, *figures, verdict)
    console = Console()
    console.print(table)
    for line in failed:
        console.print(Text(line, style="red"))
