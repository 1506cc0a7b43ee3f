"""`zoo check`: build a plugin's models and hold each to its spec and to the model contract."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import UnknownModelError, list_plugins, registry
from .._plugin_manager import BUILTIN_PACKAGE
from .._registry import suggest
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
        record = records.get(name) or records.get(f"{BUILTIN_PACKAGE}.{name}")  # `vgg` for zoo.plugins.vgg
        if record is None:
            models.append(_model_named(name, records))
        elif record.error or record.disabled:
            failed.append(f"plugin {name!r}: " + (record.error or "disabled by ZOO_DISABLE_PLUGINS"))
        else:
            models += record.models
    return list(dict.fromkeys(models)), failed


def _model_named(name: str, plugins: dict) -> str:
    """The model `name` names; else one line suggesting the plugins and models it may mean."""
    try:
        return registry().declared(name).name
    except UnknownModelError:
        short = {p.removeprefix(f"{BUILTIN_PACKAGE}."): p for p in plugins}
        close = [
            short.get(s, s) for s in suggest(name.removeprefix(f"{BUILTIN_PACKAGE}."), [*short, *plugins])
        ]
        models = suggest(name, registry().names())
        hints = [
            f"plugin {', '.join(dict.fromkeys(close))}" if close else "",
            f"model {', '.join(models)}" if models else "",
        ]
        hint = " or ".join(h for h in hints if h)
        raise CliUsageError(
            f"no plugin or model is called {name!r}"
            + (f"; did you mean {hint}?" if hint else "")
            + " (`zoo plugins` lists the plugins, `zoo list` the models)"
        ) from None


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
