"""`zoo grow`: a trained model grown into a larger one computing the same function (Net2Net)."""

from __future__ import annotations

from pathlib import Path

import typer

from .._files import OutputPathError, check_output_path
from .._growths import DEFAULT_NOISE, supported_growths
from ._app import app


@app.command(
    "grow",
    short_help="Grow a trained model into a larger one that computes the same function (Net2Net).",
    help="Grow a trained model into a larger one that computes the same function (Net2Net), as a "
    f"zoo model file to fine-tune with `zoo train TARGET --init-from RUN`. Supported: {supported_growths()}.",
)
def grow_command(
    source: str = typer.Argument(
        ...,
        metavar="SRC[.TAG]|PATH",
        help="A registered model (its published weights; default tag if none), or a model file, run folder.",
    ),
    target: str = typer.Argument(..., help="The registered model to grow into, e.g. resnet34."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for model.safetensors (or a .safetensors path)."
    ),
    noise: float = typer.Option(
        DEFAULT_NOISE,
        "--noise",
        help="Noise on copied channels' weights, relative to each tensor's std (0: none).",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the channels copied, the noise and new layers' init."
    ),
) -> None:
    from ..checkpoint import MODEL_FILE
    from ..growth import grow_model, save_grown

    file = out if out.suffix == ".safetensors" else out / MODEL_FILE
    check_output_path(file, "--out")  # before the work, not after it
    if file.exists():
        raise OutputPathError(f"--out {out} already holds {file.name}: give a new folder (nothing written)")
    grown = grow_model(source, target, noise=noise, seed=seed)
    path = save_grown(grown, file)
    typer.echo(
        f"grew {grown.grown_from} into {grown.name} (noise {noise:g}, seed {seed}): {path}; "
        f"evaluate it with `zoo eval --checkpoint {out}`"
    )
