"""campaign.toml: the ordered training steps of a release campaign, read and checked in full up front.

A campaign runs for days across working sessions, so every field is checked when the plan is
loaded: a typo found at the eleventh step, hours after the first, would waste a session.

    [defaults]                      # every field a step may set, plus nice
    data_dir = "../shared/data/cifar10-jpeg"   # relative to the plan's folder (the repo root)
    checkpoint_every = "10m"        # passed to `zoo train --checkpoint-every` where it has it
    nice = 10
    dtype = "float16"               # storage dtype of the release: float16 (export's --half rule) or float32
    tag = "cifar10-jpeg"            # weights tag of the releases

    [[run]]
    name = "resnet18-e20"           # the run's folder in the campaign dir; default: the model
    model = "resnet18"
    recipe = "onecycle-bn"
    options = { batch_size = 256, lr = 0.2, epochs = 20, eval_every = 2 }   # any `zoo train` option

    [[run]]
    model = "resnet34"
    grow_from = "resnet18-e20"      # an earlier step (its finished run) or published MODEL.TAG weights

    [[run]]
    name = "vgg11_bn-retrain"
    model = "vgg11_bn"
    improve = true                  # a retrain of a published release: trained although MODEL.TAG is
                                    # published, and published as its new version only when better
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

from .._builder import model_info
from .._errors import ZooError
from .._weights_entry import MANIFEST_NAME
from ..train.options import (
    COMMAND_LINE,
    CheckpointEvery,
    DurationError,
    TrainConfigError,
    TrainOptions,
    parse_duration,
)
from ..train.recipes import RecipeError, get_recipe
from ..weights.lookup import resolve_tag

PLAN_NAME = "campaign.toml"
DTYPES = ("float16", "float32")
_STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # no dots: <step>.log, .grown, ... are its files
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ORG = re.compile(r"^[A-Za-z0-9][\w.-]*$")
# Names the campaign dir uses for itself, so no step folder or log may take them.
_RESERVED_STEP_NAMES = ("campaign",)
# `zoo train` options a plan may not set in `options`, and why.
_CAMPAIGN_SETS = {
    "model": "model is a field of the step",
    "out": "each step trains in its own folder of the campaign dir",
    "resume": "the campaign resumes a started run by itself",
    "init_from": "a step starts from other weights with grow_from",
    "recipe": "recipe is a field of the step (or of [defaults])",
    "data_dir": "data_dir is a field of the step (or of [defaults])",
    "checkpoint_every": "checkpoint_every is a field of the step (or of [defaults])",
}


class CampaignError(ZooError):
    """A campaign plan, step or state that cannot be used: one line saying what and what to do."""


@dataclass(frozen=True)
class Step:
    """One `zoo train` run of the campaign (grown first from `grow_from` when set)."""

    name: str
    model: str
    recipe: str | None
    options: dict[str, Any]
    tag: str
    dtype: str = "float16"
    grow_from: str | None = None  # an earlier step's name, or MODEL.TAG published weights
    grow_noise: float | None = None
    improve: bool = False  # a retrain of a published MODEL.TAG, released only when its top-1 is higher
    data_dir: Path | None = None
    checkpoint_every: str | None = None
    repo_org: str = "cifar-zoo"
    trained_on: str = "CPU: 2-core x86-64 (zoo dev machine)"

    @property
    def repo_id(self) -> str:
        """The Hub repo its release is exported for (`org/<model>-<tag>`, as releases/ names them)."""
        return f"{self.repo_org}/{self.model}-{self.tag}"


@dataclass(frozen=True)
class Plan:
    """The campaign's steps in the order they run; `root` is the plan's folder (the repo root)."""

    path: Path
    steps: tuple[Step, ...]
    nice: int = 10
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(s.name for s in self.steps))

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def manifest(self) -> Path:
        """The weights manifest beside the plan: what is published."""
        return self.root / MANIFEST_NAME

    def step(self, name: str) -> Step:
        """The step called `name`, or a CampaignError listing the steps."""
        for step in self.steps:
            if step.name == name:
                return step
        raise CampaignError(f"unknown step {name!r} in {self.path}; steps: {', '.join(self.names)}")

    def source_step(self, step: Step) -> Step | None:
        """The earlier step `step` grows from (None when it grows from published weights, or not at all)."""
        return self.step(step.grow_from) if step.grow_from in self.names else None


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _matches(pattern: re.Pattern) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and bool(pattern.match(value))


def _duration(value: Any) -> bool:
    try:
        return isinstance(value, str) and parse_duration(value) > 0
    except DurationError:
        return False


# field -> (check, what a valid value is); `options` and `grow_from` are checked by code below.
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (_matches(_STEP_NAME), "a folder name (letters, digits, _ and -)"),
    "model": (_is_text, "a registered model name (`zoo list`)"),
    "recipe": (_is_text, "a recipe name (`zoo recipes`)"),
    "options": (lambda v: isinstance(v, dict), "a table of `zoo train` options, e.g. { epochs = 8 }"),
    "tag": (_matches(_TAG), "a weights tag such as 'cifar10-jpeg'"),
    "dtype": (lambda v: v in DTYPES, f"one of {', '.join(DTYPES)}"),
    "grow_from": (_is_text, "the name of an earlier step, or MODEL.TAG published weights"),
    "grow_noise": (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0,
        "a number >= 0 (`zoo grow --noise`)",
    ),
    "improve": (lambda v: isinstance(v, bool), "true or false (a retrain of a published release)"),
    "data_dir": (_is_text, "a folder, relative to the plan's folder or absolute"),
    "checkpoint_every": (_duration, "a duration such as '10m', '90s' or '1.5h'"),
    "repo_org": (_matches(_ORG), "a Hub organisation such as 'cifar-zoo'"),
    "trained_on": (_is_text, "the training machine, as the manifest's device field says it"),
    "nice": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 19, "an int in 0..19"),
}  # fmt: skip
_STEP_ONLY = ("name", "model", "grow_from", "grow_noise", "improve")
_DEFAULTS_ONLY = ("nice",)


def load_plan(path: str | Path = PLAN_NAME) -> Plan:
    """Read and check a campaign plan; any problem is one CampaignError naming the field and value."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CampaignError(
            f"no campaign plan at {path}: run from the repo root (its {PLAN_NAME}) or give --plan PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise CampaignError(f"cannot read the campaign plan {path} ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise CampaignError(f"{path} is not valid TOML ({error})") from None
    return _Checker(path).plan(document)


class _Checker:
    """Turns the parsed TOML into a Plan, raising at the first field that is wrong."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, expected: str) -> NoReturn:
        raise CampaignError(f"{self.path}: {where}: expected {expected}")

    def check(self, where: str, name: str, value: Any) -> Any:
        ok, expected = _FIELDS[name]
        if not ok(value):
            self.fail(f"{where}{name} = {value!r}", expected)
        return value

    def table(self, where: str, table: dict, allowed: tuple[str, ...]) -> dict:
        unknown = [key for key in table if key not in allowed]
        if unknown:
            self.fail(f"{where}unknown field {unknown[0]!r}", f"one of {', '.join(allowed)}")
        return {key: self.check(where, key, value) for key, value in table.items()}

    def plan(self, document: dict) -> Plan:
        unknown = [key for key in document if key not in ("defaults", "run")]
        if unknown:
            self.fail(f"unknown table {unknown[0]!r}", "[defaults] and [[run]] tables only")
        defaults = document.get("defaults", {})
        runs = document.get("run")
        if not isinstance(defaults, dict):
            self.fail(f"defaults = {defaults!r}", "a [defaults] table")
        if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
            self.fail("run", "one [[run]] table per step, at least one")
        shared = tuple(name for name in _FIELDS if name not in _STEP_ONLY)
        defaults = self.table("[defaults] ", defaults, shared)
        nice = defaults.pop("nice", 10)
        steps: list[Step] = []
        for index, run in enumerate(runs, 1):
            where = (
                f"run[{index}]" + (f" ({run['model']})" if isinstance(run.get("model"), str) else "") + " "
            )
            fields = {
                **defaults,
                **self.table(where, run, tuple(n for n in _FIELDS if n not in _DEFAULTS_ONLY)),
            }
            fields["options"] = {**defaults.get("options", {}), **run.get("options", {})}
            steps.append(self.step(where, fields, steps))
        return Plan(self.path, tuple(steps), nice)

    def step(self, where: str, fields: dict[str, Any], earlier: list[Step]) -> Step:
        if "model" not in fields:
            self.fail(f"{where}model is missing", _FIELDS["model"][1])
        model = fields["model"]
        try:
            spec = model_info(model)
        except ZooError as error:
            self.fail(f"{where}model = {model!r}", f"a registered model ({error})")
        if spec.name != model:
            self.fail(f"{where}model = {model!r}", f"the model's name alone ({spec.name!r})")
        fields.setdefault("name", model)
        if fields["name"] in _RESERVED_STEP_NAMES or fields["name"] in (s.name for s in earlier):
            self.fail(f"{where}name = {fields['name']!r}", "a name no other step has (and not 'campaign')")
        if "tag" not in fields:
            self.fail(
                f"{where}tag is missing", "a weights tag in [defaults] or the step, e.g. 'cifar10-jpeg'"
            )
        if any((s.model, s.tag) == (model, fields["tag"]) for s in earlier):
            self.fail(f"{where}tag = {fields['tag']!r}", f"a tag no other step releases {model} under")
        if "recipe" in fields:
            self.recipe(where, fields["recipe"])
        self.options(where, fields["options"])
        if "grow_from" in fields:
            self.grow_from(where, fields["grow_from"], earlier)
        elif "grow_noise" in fields:
            self.fail(f"{where}grow_noise", "grow_noise only with grow_from (the weights to grow)")
        if "data_dir" in fields:
            fields["data_dir"] = self.path.parent / fields["data_dir"]
        return Step(**{"recipe": None, **fields})

    def recipe(self, where: str, name: str) -> None:
        try:
            get_recipe(name)
        except RecipeError as error:
            self.fail(f"{where}recipe = {name!r}", f"a registered recipe ({error})")

    def options(self, where: str, options: dict[str, Any]) -> None:
        for key, value in options.items():
            if key in _CAMPAIGN_SETS:
                self.fail(f"{where}options.{key}", f"no {key} in options: {_CAMPAIGN_SETS[key]}")
            problem = check_train_option(key, value)
            if problem:
                self.fail(f"{where}options.{key} = {value!r}", problem)

    def grow_from(self, where: str, source: str, earlier: list[Step]) -> None:
        if source in (s.name for s in earlier):
            return
        expected = (
            f"an earlier step ({', '.join(s.name for s in earlier) or 'none yet'}) or MODEL.TAG weights"
        )
        if "." not in source:
            self.fail(f"{where}grow_from = {source!r}", expected)
        try:
            resolve_tag(source)
        except ZooError as error:
            self.fail(f"{where}grow_from = {source!r}", f"{expected} ({error})")


def check_train_option(name: str, value: Any) -> str | None:
    """What is wrong with ``options.NAME = value`` for `zoo train` (what is expected), or None."""
    if name not in COMMAND_LINE:
        return f"a `zoo train` option: {', '.join(sorted(COMMAND_LINE))}"
    try:
        TrainOptions(**{name: value}).check_types()
        if name == "time_budget":
            parse_duration(value)
        elif name == "checkpoint_every":
            CheckpointEvery.parse(value)
    except TrainConfigError as error:  # "lr = 'fast' is of type str: give a number"
        return str(error).rpartition(": give ")[2]
    except DurationError as error:
        return str(error)
    return None
