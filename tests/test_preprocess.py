"""The inference path a new user follows: `zoo.preprocess` feeds a model exactly what evaluation feeds it,
and examples/classify_one_image.py names the class `zoo eval` predicts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo.data import DeviceLoader, load_dataset

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "classify_one_image.py"


@pytest.fixture(scope="module")
def test_images(shared_data):
    return load_dataset("cifar10", "test", shared_data / "cifar10-jpeg").subset(torch.arange(8))


def test_preprocess_is_what_evaluation_feeds_the_model(test_images):
    model = zoo.create("lenet5")
    loader = DeviceLoader(test_images, 8, train=False, device="cpu", shuffle=False)
    fed, _ = next(iter(loader))
    prepared = zoo.preprocess(model)
    assert torch.allclose(prepared(test_images.images), fed, atol=1e-6)  # a uint8 batch
    as_pil = Image.fromarray(test_images.images[3].permute(1, 2, 0).numpy())
    assert torch.allclose(prepared(as_pil), fed[3], atol=1e-6)  # one PIL image
    assert torch.allclose(
        prepared(test_images.images[3].float() / 255), fed[3], atol=1e-6
    )  # floats in [0, 1]


def test_preprocess_resizes_and_converts_channels():
    prepared = zoo.preprocess("mlp5")  # MNIST: 1 x 28 x 28
    rgb = np.full((64, 48, 3), 255, dtype=np.uint8)
    x = prepared(rgb)
    mean, std = zoo.data_config("mlp5")["mean"][0], zoo.data_config("mlp5")["std"][0]
    assert x.shape == (1, 28, 28) and torch.allclose(x, torch.full_like(x, (1 - mean) / std), atol=1e-5)
    with pytest.raises(zoo.ZooError, match="C x H x W"):
        prepared(torch.zeros(32, 32))
    assert zoo.class_names("mlp5")[7] == "7" and zoo.class_names("lenet5")[3] == "cat"


def test_the_example_names_the_class_evaluation_predicts(test_images, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_WEIGHTS_DIR", str(Path(__file__).resolve().parents[1] / "releases"))
    path = tmp_path / "image.png"
    Image.fromarray(test_images.images[0].permute(1, 2, 0).numpy()).save(path)
    spec = importlib.util.spec_from_file_location("classify_one_image", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    (best, probability), *_ = example.classify(str(path), "lenet5")
    model = zoo.create("lenet5", pretrained=True).eval()
    with torch.inference_mode():
        fed, _ = next(iter(DeviceLoader(test_images, 8, train=False, device="cpu", shuffle=False)))
        expected = test_images.classes[int(model(fed[:1]).argmax())]
    assert best == expected and 0 < probability <= 1
