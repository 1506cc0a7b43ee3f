"""`zoo eval` and zoo.evaluate: every figure checked against a computation made here, independently
of DeviceLoader (own normalisation, own batching, exact mask read from the offline copy's npz)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import ZooLogLines

import zoo
from zoo.checkpoint import save_model

LIMIT = 500  # `--limit 500`: a seeded random 500 of the test images, some byte-exact, most not
NEAR_TIE = 1e-4  # logit gaps this small may order differently under another float summation order


@pytest.fixture(scope="module")
def cifar_test(shared_data):
    from zoo.data import load_dataset

    return load_dataset("cifar10", "test", shared_data / "cifar10-jpeg")


def _normalise(dataset) -> torch.Tensor:
    mean = torch.tensor(dataset.mean).view(1, -1, 1, 1)
    std = torch.tensor(dataset.std).view(1, -1, 1, 1)
    return (dataset.images.float() / 255 - mean) / std


@pytest.fixture(scope="module")
def lenet(cifar_test, tmp_path_factory):
    """A lenet5 after a few SGD steps (so its predictions spread over classes) and its model file.

    It trains on test images 2000..2999, which no evaluation here uses: the point is a model whose
    accuracy is not trivially one class's share, not a good one.
    """
    torch.manual_seed(0)
    model = zoo.create("lenet5")
    part = cifar_test.subset(slice(2000, 3000))
    x, y = _normalise(part), part.labels
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        for start in range(0, len(y), 100):
            optimizer.zero_grad()
            F.cross_entropy(model(x[start : start + 100]), y[start : start + 100]).backward()
            optimizer.step()
    path = save_model(model, tmp_path_factory.mktemp("run") / "lenet5", name="lenet5")
    return model.eval(), path


def _expected(model, dataset, *, flip: bool = False, batch: int = 250) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, near-tie mask) computed here: plain forward passes, mean of logits with the mirror image."""
    x = _normalise(dataset)
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
        if flip:
            mirrored = torch.cat([model(x[i : i + batch].flip(3)) for i in range(0, len(x), batch)])
            logits = (logits + mirrored) / 2
    top2 = logits.topk(2, dim=1).values
    return logits, (top2[:, 0] - top2[:, 1]) < NEAR_TIE


def _assert_top1(reported: float, correct: torch.Tensor, near_tie: torch.Tensor) -> None:
    expected = 100.0 * correct.sum().item() / len(correct)
    slack = 100.0 * near_tie.sum().item() / len(correct)  # 0 unless some logits nearly tie
    assert abs(reported - expected) <= slack + 1e-9, (reported, expected)


def test_cli_eval_json_matches_independent_computation(cli, lenet, cifar_test, shared_data):
    model, path = lenet
    code, out, err = cli(
        "eval",
        "lenet5",
        "--checkpoint",
        str(path),
        "--data-dir",
        str(shared_data),
        "--limit",
        str(LIMIT),
        "--batch-size",
        "250",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["identity"] == "cifar10-jpeg" and result["num_images"] == LIMIT
    assert result["model"] == "lenet5" and result["weights"].startswith("checkpoint:")
    assert 0 <= result["top1"] <= 100 and len(result["per_class"]) == 10
    part = cifar_test.sample(LIMIT)  # the same images every time, spread over the whole split
    exact = part.exact_mask
    assert result["exact_top1"] is not None and result["exact_images"] == int(exact.sum()) < LIMIT
    logits, near_tie = _expected(model, part)
    predicted, labels = logits.argmax(1), part.labels
    _assert_top1(result["top1"], predicted == labels, near_tie)
    _assert_top1(result["exact_top1"], (predicted == labels)[exact], near_tie[exact])
    assert part.labels.bincount(minlength=10).min() >= 30  # classes roughly balanced, unlike a prefix
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-4)
    if not near_tie.any():
        confusion = torch.zeros(10, 10, dtype=torch.int64)
        confusion.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
        assert result["confusion"] == confusion.tolist()
        for c in range(10):
            in_class = labels == c
            expected = 100.0 * (predicted[in_class] == c).sum().item() / in_class.sum().item()
            assert result["per_class"][c] == pytest.approx(expected)
    assert len(set(predicted.tolist())) > 1, "the fixture model should not predict a single class"


def test_flip_tta_averages_logits_of_image_and_mirror(lenet, cifar_test, shared_data):
    from zoo.evaluate import evaluate

    model, _ = lenet
    # Images 800..1299 straddle the end of the exact block (0..1016), so exact_top1 covers a true subset.
    part = cifar_test.subset(slice(800, 1300))
    result = evaluate(model, part, batch_size=250, tta="flip")
    logits, near_tie = _expected(model, part, flip=True)
    plain_logits, plain_near_tie = _expected(model, part)
    correct = logits.argmax(1) == part.labels
    _assert_top1(result.top1, correct, near_tie)
    _assert_top1(result.top1_no_tta, plain_logits.argmax(1) == part.labels, plain_near_tie)
    assert result.loss == pytest.approx(F.cross_entropy(logits, part.labels).item(), rel=1e-4)

    exact = np.load(shared_data / "cifar10-jpeg" / "exact_mask.npz")["test_batch"][800:1300]
    exact = torch.from_numpy(exact.astype(bool))
    assert result.exact_images == int(exact.sum()) == 217
    _assert_top1(result.exact_top1, correct[exact], near_tie[exact])
    assert result.tta == "flip" and result.num_images == 500


def test_confusion_png_is_written(cli, lenet, shared_data, tmp_path):
    _, path = lenet
    png = tmp_path / "plots" / "confusion.png"
    code, out, err = cli(
        "eval",
        "lenet5",
        "-c",
        str(path),
        "--data-dir",
        str(shared_data),
        "--limit",
        "200",
        "--tta",
        "flip",
        "--device",
        "cpu",
        "--confusion",
        str(png),
    )
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "lenet5 on cifar10-jpeg (200 images): top-1" in out and "truck" in out


@pytest.mark.parametrize(
    "args, expected",
    [
        (("eval", "lenet5", "--checkpoint", "/nonexistent/run"), "no model file at /nonexistent/run"),
        (("eval", "lenet5"), "--checkpoint PATH or --pretrained"),
        (("eval", "lenet5", "--checkpoint", "x", "--pretrained"), "not both"),
        (("eval", "lenet5", "--pretrained"), "no published weights for 'lenet5'"),
        (("eval", "lenet5", "--checkpoint", "x", "--tta", "mirror"), "'mirror' is not one of"),
        (("eval", "lenet5", "--checkpoint", "x", "--limit", "0"), "--limit"),
        (("eval", "lenet6", "--checkpoint", "x"), "unknown model 'lenet6'"),
        (("eval", "lenet5", "--checkpoint", "x", "--device", "cuda:7"), "--device cuda:7"),
    ],
)
def test_bad_eval_input_exits_2_with_one_line(cli, zoo_manifest, args, expected):
    # zoo_manifest: an empty weights manifest, so no model has published weights here
    code, out, err = cli(*args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("zoo: error:"), err
    assert expected in lines[0]
    assert "Traceback" not in err + out


def test_exported_weights_not_on_the_hub_say_how_to_load_them(cli, monkeypatch, tmp_path):
    import shutil

    from zoo.weights import load_manifest, manifest

    monkeypatch.delenv("ZOO_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("ZOO_MANIFEST", raising=False)
    # The shipped manifest as a pip install holds it: no releases/ beside it, none in the working dir.
    shutil.copy(manifest.manifest_path(), tmp_path / "weights_manifest.json")
    monkeypatch.setattr(manifest, "_shipped_manifest_path", lambda: tmp_path / "weights_manifest.json")
    monkeypatch.chdir(tmp_path)
    exported = [m for m, tags in load_manifest().items() if next(iter(tags.values()))["revision"] is None]
    if not exported:
        pytest.skip("every shipped weights entry is on the Hub")
    code, _, err = cli("eval", exported[0], "--pretrained")
    assert code == 2 and "not on the Hub yet" in err and "ZOO_WEIGHTS_DIR" in err and "releases/" in err


def test_checkpoint_of_another_model_is_refused(cli, lenet):
    _, path = lenet
    code, out, err = cli("eval", "resnet18", "--checkpoint", str(path))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "holds a 'lenet5' model, not 'resnet18'" in lines[0] and "Traceback" not in err + out


def test_mnist_model_evaluates_on_mnist(cli, shared_data, tmp_path):
    if "mlp5" not in zoo.list_models():
        pytest.skip("mlp5 is not registered in this checkout")
    torch.manual_seed(0)
    path = save_model(zoo.create("mlp5"), tmp_path / "mlp5", name="mlp5")
    code, out, err = cli(
        "eval",
        "mlp5",
        "-c",
        str(path),
        "--data-dir",
        str(shared_data),
        "--limit",
        "300",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["identity"] == "mnist" and result["num_images"] == 300
    assert result["exact_top1"] is None and result["classes"] == [str(d) for d in range(10)]
    assert sum(map(sum, result["confusion"])) == 300


def test_an_evaluation_in_a_log_shows_its_progress_as_lines(lenet, cifar_test, monkeypatch):
    from rich.console import Console

    from zoo._progress import BatchProgress
    from zoo.evaluate import evaluate

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: False))  # stderr is a file
    monkeypatch.setattr(BatchProgress, "LINE_EVERY_S", 0.0)
    part = cifar_test.subset(slice(0, 64))
    with ZooLogLines() as lines:
        evaluate(lenet[0], part, batch_size=16, progress=True)
        evaluate(lenet[0], part, batch_size=16)  # not asked for: silent
    assert [line.split(": batch ")[1].split()[0] for line in lines] == ["1/4", "2/4", "3/4"], lines
    assert lines[0].startswith(f"evaluating on {part.identity}: batch 1/4 (25%)")
    assert lines[1].endswith("left in the pass") and "img/s" not in lines[1]
