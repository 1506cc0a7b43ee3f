"""`zoo list`, `zoo info`, `zoo plugins`."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.console import Console
from rich.table import Table

from .. import list_models, list_plugins, model_info, registry, weight_tags
from .._registry import split_name
from .._weights_entry import METRICS
from ..train.recipes import DEFAULT_RECIPE
from ..weights.lookup import manifest_entry, source_of
from ._app import CliUsageError, app


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def _input(size) -> str:
    return "x".join(str(v) for v in size)


@app.command("list")
def list_command(
    pattern: str = typer.Argument("*", help="fnmatch wildcard, e.g. 'resnext*'."),
    family: str = typer.Option(None, "--family", "-f", help="Keep one architecture family."),
    pretrained: bool = typer.Option(False, "--pretrained", help="Only models with published weights."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List registered models."""
    if family is not None and family not in registry().families():
        raise CliUsageError(f"unknown family {family!r}; families: {', '.join(registry().families())}")
    names = list_models(pattern, family=family, pretrained=True if pretrained else None)
    specs = [model_info(n) for n in names]
    if as_json:
        rows = [{**s.to_dict(), "weights": weight_tags(s.name)} for s in specs]
        if pretrained:  # where each model's default weights would come from, and what they score
            for row in rows:
                row["weights_entry"] = _weights_details(row["name"])
        typer.echo(json.dumps(rows, indent=2))
        return
    if not specs:
        typer.echo(f"no model matches {pattern!r}" + (f" in family {family!r}" if family else ""), err=True)
        raise typer.Exit(1)
    table = Table(title=f"{len(specs)} models", title_justify="left")
    columns = [("name", "left"), ("family", "left"), ("params", "right"), ("MACs", "right")]
    if pretrained:  # what a user of the weights needs: score, data set, where they would load from
        columns += [("weights", "left"), ("top-1 %", "right"), ("from", "left")]
    else:
        columns += [("input", "left"), ("dataset", "left"), ("weights", "left")]
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for s in specs:
        row = [s.name, s.family, _millions(s.params), _millions(s.macs)]
        if pretrained:
            _, tag, entry = manifest_entry(s.name)
            row += [tag, f"{entry['metrics']['top1']:.2f}", source_of(entry, short=True)]
        else:
            row += [_input(s.input_size), s.dataset, ", ".join(weight_tags(s.name)) or "-"]
        table.add_row(*row)
    Console().print(table)


@app.command("info")
def info_command(
    name: str = typer.Argument(..., help="Model name (optionally name.tag)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show everything the registry knows about one model (with NAME.TAG: those weights too)."""
    spec = model_info(name)
    data = {**spec.to_dict(), "weights": weight_tags(spec.name)}
    if split_name(name)[1] is not None or data["weights"]:  # the tag asked for, else the default one
        data["weights_entry"] = _weights_details(name)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(show_header=False, title=spec.name, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    shown = {
        **data,
        "params": f"{spec.params:,}",
        "trainable": f"{spec.trainable_params:,}",
        "macs": f"{spec.macs:,}",
        "input_size": _input(spec.input_size),
        "paper": str(spec.paper),
        "kwargs": ", ".join(f"{k}={v!r}" for k, v in spec.kwargs.items()) or "-",
        "tags": ", ".join(spec.tags) or "-",
        "recipe": spec.recipe or f"{DEFAULT_RECIPE} (the default)",
        "weights": ", ".join(data["weights"]) or "-",
    }
    shown.update({f"weights {k}": v for k, v in shown.pop("weights_entry", {}).items()})
    for key, value in shown.items():
        if value != "":
            table.add_row(key, str(value))
    Console().print(table)


@app.command("plugins")
def plugins_command(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """List plugins, the models each contributed, and any load errors."""
    records = list_plugins()
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in records], indent=2))
        return
    table = Table(title=f"{len(records)} plugins", title_justify="left")
    for column in ("plugin", "version", "distribution", "contributes", "status"):
        table.add_column(column)
    for r in records:
        status = "disabled" if r.disabled else (f"[red]{r.error}[/red]" if r.error else "ok")
        contributes = "\n".join(
            f"{kind}: {', '.join(names)}" for kind, names in r.contributions().items() if names
        )
        table.add_row(r.name, r.version, r.distribution, contributes or "-", status)
    Console().print(table)


def _weights_details(name: str) -> dict[str, str]:
    """What `zoo info NAME.TAG` shows about those weights: metrics and provenance."""
    _, tag, entry = manifest_entry(name)  # an unknown tag: exit 2 naming the published ones
    values = entry["metrics"]
    metrics = ", ".join(
        f"{k} {values[k]:.4f}" if k == "loss" else f"{k} {values[k]:.2f} %" for k in METRICS if k in values
    )
    where = entry["repo_id"] + (
        f"@{entry['revision'][:12]}" if entry["revision"] else " (not on the Hub yet)"
    )
    fields = {
        "tag": tag,
        "top-1": f"{values['top1']:.2f} % ({entry['dataset']})",
        "metrics": metrics,
        "dataset": entry["dataset"],
        "repo": where,
        "from": source_of(entry),
    }
    fields.update({k: str(entry.get(k) if entry.get(k) is not None else "-") for k in _PROVENANCE})
    if entry.get("recipe_changes"):  # what the run set differently, so the line says how to reproduce it
        changed = ", ".join(
            f"--{key.replace('_', '-')} {value}" for key, value in entry["recipe_changes"].items()
        )
        fields["recipe"] += f" ({changed})"
    return fields


_PROVENANCE = ("recipe", "epochs", "device", "date")
