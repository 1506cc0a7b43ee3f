"""`zoo convert`: a checkpoint from the seed's, pytorch-cifar's or CIFAR-ZOO's code as a zoo model file."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app


@app.command("convert")
def convert_command(
    model: str = typer.Argument(..., help="Registered model name, e.g. geresnext29_8x64d."),
    checkpoint: Path = typer.Argument(..., help="The .pth / .pt / .t7 state dict that code saved."),
    source: str = typer.Option(
        ..., "--from", help="The code that saved it: seed, pytorch-cifar or cifar-zoo."
    ),
    out: Path = typer.Option(..., "--out", help="Directory for model.safetensors (or a .safetensors path)."),
) -> None:
    """Convert a checkpoint saved by the seed's, pytorch-cifar's or CIFAR-ZOO's code."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..convert import convert_checkpoint

    path = convert_checkpoint(model, checkpoint, source, out)
    typer.echo(f"wrote {path} ({model}, converted from {source}); use it with zoo eval/push --checkpoint")
