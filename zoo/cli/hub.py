"""`zoo push` (publish a checkpoint to the Hub) and `zoo pull` (fill the cache for offline use)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..hub import HubError, PushError, export, pull, push, push_folder
from ..hub._push import RepoIdError, check_repo_id
from ..weights.lookup import PullSourceError
from ._app import ClickException, CliUsageError, app


def _fail_on_hub_error(error: Exception) -> ClickException:
    # One line on stderr and exit code 1: the command was right, the Hub or the files were not.
    return ClickException(str(error))


@app.command("push")
def push_command(
    model: str = typer.Argument(..., help="Registered model name (name.tag sets the weights tag)."),
    checkpoint: Path = typer.Option(
        None, "--checkpoint", "-c", help="A zoo model file or a `zoo train` run directory."
    ),
    repo_id: str = typer.Option(
        None, "--repo-id", help="Hub repo to publish to, ORG/NAME (created if needed)."
    ),
    export_to: Path = typer.Option(
        None,
        "--export",
        help="Write the files into this new folder instead of uploading (no network); "
        "the manifest entry records no revision until --from-folder uploads them.",
    ),
    from_folder: Path = typer.Option(
        None, "--from-folder", help="Upload a folder written by --export as it is, and pin its commit."
    ),
    tag: str = typer.Option(
        None, "--tag", help="Weights tag (default: the model's default tag, else the data set)."
    ),
    metrics: Path = typer.Option(
        None, "--metrics", help="JSON of top1/top1_tta/loss/exact_top1 or `zoo eval --json`."
    ),
    private: bool = typer.Option(False, "--private", help="Create the repo private."),
    token: str = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or the stored login)."),
    max_shard_size: str = typer.Option(
        "5GB", "--max-shard-size", help="Shard model.safetensors above this size."
    ),
    message: str = typer.Option(None, "--message", "-m", help="Commit message."),
    no_manifest: bool = typer.Option(False, "--no-manifest", help="Do not update weights_manifest.json."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Publish a checkpoint's weights, config.json and model card; record the commit in the manifest."""

    if (checkpoint is None) == (from_folder is None):
        raise CliUsageError("give one of --checkpoint (a training run) or --from-folder (an --export)")
    if export_to is not None and checkpoint is None:
        raise CliUsageError("--export writes a checkpoint's files: give --checkpoint too")
    if repo_id is None and from_folder is None:
        raise CliUsageError(
            "--repo-id ORG/NAME is required (with --from-folder it defaults to the manifest's)"
        )
    if repo_id is not None:
        try:
            check_repo_id(repo_id)  # before anything is loaded or written
        except RepoIdError as error:
            raise CliUsageError(str(error)) from None
    shard = int(max_shard_size) if max_shard_size.isdigit() else max_shard_size
    try:
        if from_folder is not None:
            result = push_folder(
                model,
                from_folder,
                repo_id=repo_id,
                private=private,
                token=token,
                commit_message=message,
                update_manifest=not no_manifest,
            )
        elif export_to is not None:
            result = export(
                model,
                checkpoint,
                export_to,
                repo_id,
                tag=tag,
                metrics=metrics,
                max_shard_size=shard,
                update_manifest=not no_manifest,
            )
        else:
            result = push(
                model,
                checkpoint,
                repo_id,
                tag=tag,
                private=private,
                token=token,
                metrics=metrics,
                max_shard_size=shard,
                commit_message=message,
                update_manifest=not no_manifest,
            )
    except PushError as error:  # what was asked cannot be published (no metrics, another model): bad input
        raise CliUsageError(str(error)) from None
    except HubError as error:
        raise _fail_on_hub_error(error) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "model": result.model,
                    "tag": result.tag,
                    "repo_id": result.repo_id,
                    "revision": result.revision,
                    "commit_url": result.commit_url,
                    "manifest": str(result.manifest) if result.manifest else None,
                    "entry": result.entry,
                },
                indent=2,
            )
        )
        return
    if result.revision is None:
        typer.echo(
            f"exported {result.model}.{result.tag} for {result.repo_id} into {export_to} (not uploaded)"
        )
    else:
        typer.echo(f"pushed {result.model}.{result.tag} to {result.repo_id}")
        typer.echo(f"commit {result.revision}  {result.commit_url}")
    for f in result.entry["files"]:
        typer.echo(f"  {f['name']}  {f['size']:,} bytes  sha256 {f['sha256']}")
    if result.manifest:
        typer.echo(f"manifest entry {result.model}.{result.tag} updated in {result.manifest}")


@app.command("pull")
def pull_command(
    model: str = typer.Argument(None, help="Registered model name (name.tag picks the weights)."),
    all_models: bool = typer.Option(False, "--all", help="Every published model (every tag unless --tag)."),
    tag: str = typer.Option(None, "--tag", help="Weights tag (default: the model's default tag)."),
    token: str = typer.Option(None, "--token", help="Hub token for private repos (default: HF_TOKEN)."),
    from_dir: Path = typer.Option(
        None,
        "--from",
        help="Copy from this folder of <repo name>/ copies (e.g. a checkout's releases/) instead of the Hub.",
    ),
) -> None:
    """Fill the cache with published weights, checked against the manifest, for later offline use.

    From the Hub, or with --from DIR from a folder of exported releases (a zoo checkout's releases/,
    `git clone --depth 1` is enough): then `zoo.create(NAME, pretrained=True)` works anywhere.
    """
    if (model is None) == (not all_models):
        raise CliUsageError("name one MODEL or pass --all (not both)")
    try:
        pulled = pull(model, tag, all_models=all_models, token=token, from_dir=from_dir)
    except PullSourceError as error:  # the folder given is wrong: bad input
        raise CliUsageError(str(error)) from None
    except HubError as error:
        raise _fail_on_hub_error(error) from None
    for name, paths in pulled.items():
        size = sum(Path(p).stat().st_size for p in paths)
        typer.echo(f"{name}: {len(paths)} file(s), {size:,} bytes, sha256 verified  {Path(paths[0]).parent}")
    if not pulled:
        typer.echo("the manifest lists no published weights", err=True)
