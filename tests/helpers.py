"""Small helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path


def write_tiny_cifar(source: Path, target: Path, per_batch: int = 100, test: int = 249) -> Path:
    """A CIFAR-10 directory (torchvision layout) with the first images of each original batch."""
    from zoo.data import load_dataset

    root = target / "cifar-10-batches-py"
    root.mkdir(parents=True)
    for split, names, n in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)], per_batch),
        ("test", ["test_batch"], test),
    ):
        ds = load_dataset("cifar10", split, source)
        for i, name in enumerate(names):
            rows = slice(i * 10_000, i * 10_000 + n)
            batch = {"data": ds.images[rows].reshape(n, -1).numpy(), "labels": ds.labels[rows].tolist()}
            (root / name).write_bytes(pickle.dumps(batch, protocol=4))  # the release's own format
    return target


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("zoo: error:")]


def one_error(stderr: str) -> str:
    """The one `zoo: error:` line a failed command printed (asserting there is one, and no traceback)."""
    lines = error_lines(stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root`, with its bytes and mtime: equal snapshots mean nothing was touched."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def flip_byte(path: Path, offset: int = -1) -> None:
    """Corrupt one byte of `path` in place (same size: only a hash can tell)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def export_to_weights_dir(model, weights_dir: Path, repo_name: str, tag: str) -> Path:
    """Publish `model` (a lenet5) the way an offline mirror holds it: ZOO_WEIGHTS_DIR/<repo_name>/."""
    from zoo import hub
    from zoo.checkpoint import save_model

    checkpoint = save_model(model, weights_dir.parent / f"{repo_name}-run", name="lenet5")
    folder = weights_dir / repo_name
    hub.export("lenet5", checkpoint, folder, f"zoo-test/{repo_name}", tag=tag, metrics={"top1": 50.0})
    return folder


def lenet5_train_args(
    data_dir: Path, out: Path, *, limit: int, epochs: int = 2, batch: int = 32
) -> list[str]:
    """`zoo train` arguments for a small lenet5 run (after `-m zoo` or `torchrun ... -m zoo`)."""
    return [
        "train", "lenet5", "--epochs", str(epochs), "--limit-train", str(limit), "--batch-size", str(batch),
        "--data-dir", str(data_dir), "--out", str(out),
    ]  # fmt: skip


def interrupt_training_at(monkeypatch, step: int) -> None:
    """Make every model training builds raise KeyboardInterrupt (Ctrl-C) in training step `step`."""
    import zoo.train.init_from as init_from  # where training builds its model (zoo._builder.create)

    real_create = init_from.create

    def create(*args, **kwargs):
        model, calls = real_create(*args, **kwargs), [0]

        def interrupt(module, inputs):
            if module.training:
                calls[0] += 1
                if calls[0] == step:
                    raise KeyboardInterrupt

        model.register_forward_pre_hook(interrupt)
        return model

    monkeypatch.setattr(init_from, "create", create)


class ZooLogLines(logging.Handler):
    """The messages of the `zoo` logger while installed (the CLI stops it propagating to pytest)."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> list[str]:
        zoo_logger = logging.getLogger("zoo")
        self._level = zoo_logger.level
        zoo_logger.addHandler(self)
        zoo_logger.setLevel(logging.INFO)
        return self.messages

    def __exit__(self, *exc) -> None:
        logging.getLogger("zoo").removeHandler(self)
        logging.getLogger("zoo").setLevel(self._level)
