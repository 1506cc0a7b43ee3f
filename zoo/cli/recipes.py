"""`zoo recipes`: the registered training recipes (built-in and from plugins)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from .. import registry
from ..train.recipes import describe, get_recipe
from ._app import app


@app.command("recipes")
def recipes_command(
    name: str = typer.Argument(None, metavar="RECIPE", help="Show every field of this recipe."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List training recipes: source, claim and what each sets (`zoo train --recipe NAME`)."""

    recipes = [get_recipe(name)] if name else list(registry().recipes().values())
    users = {r.name: [s.name for s in registry().specs() if s.recipe == r.name] for r in recipes}
    if as_json:
        rows = [
            {**r.to_dict(), "plugin": registry().owner("recipes", r.name), "models": users[r.name]}
            for r in recipes
        ]
        typer.echo(json.dumps(rows[0] if name else rows, indent=2))
        return
    if name:
        recipe = recipes[0]
        table = Table(show_header=False, title=f"recipe {recipe.name}", title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        table.add_row("plugin", registry().owner("recipes", recipe.name))
        for key, value in recipe.to_dict().items():
            table.add_row(key, str(value))
        table.add_row("default for", ", ".join(users[recipe.name]) or "-")
        Console().print(table)
        return
    table = Table(
        title=f"{len(recipes)} recipes",
        title_justify="left",
        caption="`zoo recipes NAME` shows every field; `zoo train` options override single fields",
        caption_justify="left",
    )
    for column in ("name", "source", "claim", "what it sets"):
        table.add_column(column)
    for r in recipes:
        label = r.name + (f"\n(default: {', '.join(users[r.name])})" if users[r.name] else "")
        table.add_row(label, r.source, r.claim, describe(r))
    Console().print(table)
