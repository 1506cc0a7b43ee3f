"""`zoo study list | show NAME | run NAME --out DIR | report DIR`: the seeds' experiments and reports."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import registry
from ._app import app

study_app = typer.Typer(
    help="The seeds' studies: grids of training runs, probes and reports (tables and figures).",
    no_args_is_help=True,
)
app.add_typer(study_app, name="study")


@study_app.command("list")
def list_command() -> None:
    """List the registered studies: name, runs, plugin and what each compares."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..studies import list_studies

    for study in list_studies():
        owner = registry().owner("studies", study.name)
        typer.echo(f"{study.name:14} {len(study.cells):3} runs  [{owner}]  {study.description}")


@study_app.command("show")
def show_command(name: str = typer.Argument(..., metavar="NAME", help="A study (`zoo study list`).")) -> None:
    """Show a study's grid (each run's model, recipe and options, the seed's figure), scales and cost."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..studies import SCALES, get_study
    from ..studies.runner import estimate

    study = get_study(name)
    typer.echo(f"study {study.name} ({registry().owner('studies', study.name)}): {study.description}")
    typer.echo(f"seed figures: {study.source or '-'}")
    for table in study.tables():
        typer.echo(f"\n{table}:")
        for c in (c for c in study.cells if c.table == table):
            settings = ", ".join(f"{k}={v}" for k, v in {**c.options, **c.model_kwargs}.items())
            probes = f"  probes: {', '.join(c.probes)}" if c.probes else ""
            run = f"{c.model} [{c.recipe or 'default'}] {settings}{probes}"
            typer.echo(f"  {c.name:28} {c.row:40} seed {c.seed or '-':>10}  {run}")
    typer.echo(f"\nfigures: {', '.join(study.figures)}")
    for scale in (s for s in SCALES if s in study.scales):
        settings, cost = study.scales[scale], estimate(study, scale)
        options = ", ".join(f"{k} {v}" for k, v in settings.options.items()) or "the seed's settings"
        typer.echo(f"scale {scale:8} {options}; about {cost['train_tmacs']:.3g} TMACs of training")


@study_app.command("run")
def run_command(
    name: str = typer.Argument(..., metavar="NAME", help="A study (`zoo study list`)."),
    out: Path = typer.Option(..., "--out", "-o", help="The study's folder: runs/, report.md, figures."),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where the data set lives."),
    scale: str = typer.Option(
        "smoke", "--scale", help="smoke (seconds), reduced (minutes on 2 CPU cores) or full."
    ),
    only: list[str] = typer.Option(
        None, "--only", help="Run only these cells (name, glob or table); repeatable."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the study in --out: finished runs are kept."
    ),
    device: str = typer.Option(None, "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
    image: str = typer.Option(
        None, "--image", help="An image file or CIFAR-10 test-set index, for feature-maps (default 0)."
    ),
) -> None:
    """Run a study's grid of training runs and write its report (report.md, results.csv/.json, PNGs)."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..studies import run

    result = run(
        name, out, data_dir=data_dir, scale=scale, only=only, resume=resume, device=device, image=image
    )
    for row in result.rows:
        if "test_acc" not in row:  # a study that trains nothing
            typer.echo(f"{row['table']:20} {row['row']:40} {row.get('value', '')}")
            continue
        typer.echo(
            f"{row['table']:20} {row['row']:40} test {row['test_acc']:6.2f} %  (seed {row['seed'] or '-'})"
        )
    typer.echo(f"report: {result.report} ({len(result.figures)} figures)")


@study_app.command("report")
def report_command(
    out: Path = typer.Argument(..., metavar="DIR", help="A study's folder (`zoo study run --out`)."),
    name: str = typer.Option(None, "--study", help="The study, where DIR does not record it."),
    scale: str = typer.Option(None, "--scale", help="Its scale, where DIR does not record it."),
) -> None:
    """Write DIR's report.md again, training nothing: figures redrawn from its results.json (kept as
    they are with only results.csv)."""
    # Loaded when the command runs, so that `zoo --help` and `zoo list` stay fast.
    from ..studies import rewrite
    from ..studies.report import ReportError

    if not out.is_dir():
        raise ReportError(f"{out} is not a folder: give the --out of a `zoo study run`")
    report, figures = rewrite(out, name, scale)
    typer.echo(f"report: {report} ({len(figures)} figures)")
