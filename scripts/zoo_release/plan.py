"""What the GPU release job trains, in which order, with which recipe and how many seconds each.

The recipes are built-in ones (`gpu-onecycle`, `fast`); `recipe_for` is the one place that picks them.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.train.recipes import Recipe, get_recipe

# The ResNet-9 line trains with the recipe it was designed with.
FAST_FAMILIES = ("resnet9", "res9")


def recipe_for(model: str) -> Recipe:
    """`fast` for the ResNet-9 line, `gpu-onecycle` for every other model."""
    import zoo

    return get_recipe("fast" if zoo.model_info(model).family in FAST_FAMILIES else "gpu-onecycle")


@dataclass(frozen=True)
class Item:
    """One model of the job and the seconds its training (with its per-epoch evaluations) may take."""

    model: str
    budget_s: float


# The mission's named models first (resnet34, geresnext29_8x64d), then by how much each is asked for.
# Seconds: about 20 epochs at the H200 throughput estimated from each model's MACs (to be measured).
PRIORITY = (
    Item("resnet34", 150),
    Item("geresnext29_8x64d", 210),
    Item("resnet18", 90),
    Item("wrn28_10", 210),
    Item("resnext29_32x4d", 120),
    Item("densenet121", 150),
    Item("resnet50", 150),
    Item("wrn16_8", 90),
    Item("resnext29_2x64d", 120),
    Item("resnext29_2x32d", 60),
    Item("densenet100_bc", 90),
    Item("fast_resnet9", 40),
)


class PlanError(ValueError):
    """A --models list naming an unknown model or a budget that is not a duration."""


def parse_models(text: str) -> list[Item]:
    """Items of ``"resnet34=150,geresnext29_8x64d"``: a model's own budget, else its PRIORITY one."""
    import zoo
    from zoo.train import parse_duration

    defaults = {item.model: item.budget_s for item in PRIORITY}
    items = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        model, _, budget = part.partition("=")
        zoo.model_info(model)  # an unknown name fails here, with "did you mean"
        if not budget and model not in defaults:
            raise PlanError(f"{model} has no default budget: write {model}=SECONDS (e.g. {model}=120)")
        try:
            items.append(Item(model, parse_duration(budget) if budget else defaults[model]))
        except ValueError as error:
            raise PlanError(f"--models {part!r}: {error}") from None
    if not items:
        raise PlanError("--models names no model; e.g. --models resnet34=150,resnet18")
    return items


def unpublished(items: tuple[Item, ...] = PRIORITY) -> list[Item]:
    """`items` whose model has no entry in the weights manifest yet: what a next run should train."""
    from zoo.weights import load_manifest

    published = load_manifest()
    return [item for item in items if item.model not in published]


def describe_plan(items: list[Item]) -> str:
    """One line per model: budget and recipe."""
    return "\n".join(f"{i.model:<20} {i.budget_s:>5.0f} s  {recipe_for(i.model).name}" for i in items)
