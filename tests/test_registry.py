"""Names, lookups and `create` errors of the library API."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo._registry import split_name


def test_split_name():
    assert split_name("resnet18") == ("resnet18", None)
    assert split_name("resnet18.cifar10_seed200") == ("resnet18", "cifar10_seed200")
    with pytest.raises(zoo.UnknownModelError, match="ends with '.'"):
        split_name("resnet18.")


def test_list_models_patterns_are_sorted_and_filtered():
    names = zoo.list_models()
    assert names == sorted(names) and {"lenet5", "resnet18"} <= set(names)
    assert zoo.list_models("res*") == [n for n in names if n.startswith("res")]
    assert zoo.list_models("*", family="lenet") == ["lenet5"]
    assert zoo.list_models("nothing*") == []
    assert zoo.list_models(pretrained=False) == [n for n in names if not zoo.weight_tags(n)]


def test_unknown_model_suggests_close_names():
    with pytest.raises(zoo.UnknownModelError, match="did you mean resnet18"):
        zoo.model_info("resnet19")
    with pytest.raises(zoo.UnknownModelError) as info:
        zoo.create("completely_unrelated")
    assert "did you mean" not in str(info.value) and "zoo list" in str(info.value)


@pytest.mark.parametrize("name", ["../../etc/passwd", ".tag", " .x"])
def test_a_name_with_nothing_before_its_dot_is_named_whole(name):
    with pytest.raises(zoo.UnknownModelError, match=f"unknown model {name!r}: a name is MODEL or MODEL.TAG"):
        zoo.create(name)


def test_model_info_accepts_a_tag_and_spec_is_frozen():
    spec = zoo.model_info("resnet18.sometag")
    assert spec.name == "resnet18" and spec.params == 11_173_962
    with pytest.raises(AttributeError):
        spec.params = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.kwargs["act"] = "gelu"  # type: ignore[index]


def test_create_overrides_and_errors(zoo_manifest):  # an empty weights manifest
    model = zoo.create("resnet18", num_classes=5, act="gelu")
    assert model.fc.out_features == 5
    assert any(isinstance(m, torch.nn.GELU) for m in model.modules())
    with pytest.raises(zoo.BadModelOptionError, match="does not accept option.*depth.*accepts"):
        zoo.create("resnet18", depth=3)
    how = r"no published weights for 'resnet18' yet \(0 of \d+ models .*`zoo train resnet18 --out RUN`"
    with pytest.raises(zoo.NoPublishedWeightsError, match=how):
        zoo.create("resnet18", pretrained=True)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"name": "Bad-Name"}, "name"),
        ({"params": 1.5}, "params"),
        ({"dataset": "imagenet"}, "dataset"),
        ({"input_size": (3, 32)}, "input_size"),
        ({"builder": None}, "builder"),
        ({"kwargs": {"num_classes": 3}}, "kwargs"),
    ],
)
def test_spec_validation_names_the_field(changes, field):
    from zoo.models.lenet import lenet5

    fields = dict(
        name="ok", family="f", builder=lenet5, params=1, macs=1, paper=zoo.Paper("t", "https://x"), seed="s"
    )
    fields.update(changes)
    with pytest.raises(zoo.SpecError, match=f"field '{field}'"):
        zoo.ModelSpec(**fields)


@pytest.mark.parametrize(
    "typo, expected",
    [
        ("resnet19", ["resnet18", "resnet9"]),
        ("rsenet18", ["resnet18"]),
        ("mlp5bn", ["mlp5_bn"]),
        ("densenet", ["densenet100_bc", "densenet121"]),
        ("xyz", []),
    ],
)
def test_suggestions_rank_by_edits_then_prefix(typo, expected):
    from zoo._registry import suggest

    assert suggest(typo, zoo.list_models()) == expected
