"""Looking up the registered training recipes (the `Recipe` record itself is zoo._recipe's)."""

from __future__ import annotations

from .._recipe import DESCRIPTIVE_FIELDS, HYPER_PARAMETERS, Recipe, RecipeError, check_recipe, describe
from .._registry import registry, suggest

__all__ = [
    "DEFAULT_RECIPE",
    "DESCRIPTIVE_FIELDS",
    "HYPER_PARAMETERS",
    "Recipe",
    "RecipeError",
    "check_recipe",
    "default_recipe_name",
    "describe",
    "get_recipe",
    "list_recipes",
]

DEFAULT_RECIPE = "seed200"  # for a model whose spec names no recipe


def list_recipes() -> list[str]:
    """Names of the registered recipes (built-in and from plugins), sorted."""
    return list(registry().recipes())


def get_recipe(name: str) -> Recipe:
    """The registered recipe called `name`."""
    recipes = registry().recipes()
    try:
        return recipes[name]
    except KeyError:
        close = suggest(name, recipes)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise RecipeError(
            f"unknown recipe {name!r}{hint} (recipes: {', '.join(recipes)}; `zoo recipes` describes them)"
        ) from None


def default_recipe_name(model: str) -> str:
    """The recipe a model trains with when none is named: its spec's, else the default."""
    return registry().get(model).recipe or DEFAULT_RECIPE
