"""Publishing a `zoo train` checkpoint to the Hub and recording it in the weights manifest."""

from __future__ import annotations

import datetime
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._files import sha256_of
from .._registry import registry, split_name
from .._version import __version__
from .._weights_entry import DATASET_IDENTITIES, METRICS, field_rule, validate_entry
from ..weights._client import HubError, offline, quiet_client, translate
from ..weights._read import normalisation_from
from ..weights.lookup import load_manifest, manifest_entry
from ..weights.manifest import write_entry
from ._card import build_config, build_model_card

# Files a push owns in the repo: older ones (a shard count that changed) are deleted by the next push.
_WEIGHTS_FILE = re.compile(r"^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$")
_PROVENANCE = ("dataset", "recipe", "recipe_changes", "epochs", "device", "grown_from", "rehearsal")

_OPTIONAL_PROVENANCE = ("recipe_changes", "grown_from", "rehearsal")  # in the entry only when given


class PushError(HubError):
    """A publication that cannot go ahead as asked (wrong checkpoint, missing metrics...)."""


@dataclass(frozen=True)
class PushResult:
    """What `push` published: the commit (`revision`) and the manifest entry recorded for it."""

    model: str
    tag: str
    repo_id: str
    revision: str | None  # None: exported only, not on the Hub yet
    commit_url: str
    entry: dict[str, Any]
    manifest: Path | None


def _meta_value(metadata: dict[str, str], *keys: str) -> Any:
    """A ``zoo.*`` checkpoint metadata value, JSON-decoded when it is JSON."""
    for key in keys:
        if f"zoo.{key}" in metadata:
            raw = metadata[f"zoo.{key}"]
            try:
                return json.loads(raw)
            except ValueError:
                return raw
    return None


def read_metrics(source: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """Metrics (and provenance: dataset, recipe, epochs, device) from a dict or a JSON file.

    Accepts the plain form ``{"top1": .., "top1_tta": .., "loss": .., "exact_top1": .., "dataset": ..}``
    or the output of ``zoo eval --json`` (with ``identity`` and ``tta``).
    """
    if source is None:
        return {}
    if not isinstance(source, dict):
        try:
            source = json.loads(Path(source).read_text())
        except (OSError, ValueError) as error:
            raise PushError(f"cannot read metrics file {source}: {error}") from None
    if not isinstance(source, dict):
        raise PushError('the metrics JSON must be an object like {"top1": 93.1, "loss": 0.25}')
    if "identity" in source and "tta" in source:  # an EvalResult from `zoo eval --json`
        tta = source["tta"] != "none"
        plain = {
            "dataset": source["identity"],
            "loss": source.get("loss"),
            "exact_top1": source.get("exact_top1"),
            "top1": source.get("top1_no_tta") if tta else source.get("top1"),
            "top1_tta": source.get("top1") if tta else None,
        }
        return {k: v for k, v in plain.items() if v is not None}
    unknown = sorted(set(source) - set(METRICS) - set(_PROVENANCE))
    if unknown:
        raise PushError(
            f"unknown key(s) {', '.join(unknown)} in the metrics; known: {', '.join(METRICS + _PROVENANCE)}"
        )
    return source


def _dtype_name(state: dict) -> str:
    floats = [t.dtype for t in state.values() if t.is_floating_point()]
    return str(floats[0]).removeprefix("torch.") if floats else "float32"


def build_entry(
    spec, metadata: dict[str, str], model, metrics: dict[str, Any], repo_id: str
) -> dict[str, Any]:
    """The manifest entry for a push, before the upload fills in revision and files."""
    recorded = _meta_value(metadata, "metrics")
    recorded = recorded if isinstance(recorded, dict) else {}
    measured = {
        k: v
        for k, v in {**recorded, **{k: _meta_value(metadata, k) for k in METRICS}}.items()
        if k in METRICS and v is not None
    }
    measured.update({k: v for k, v in metrics.items() if k in METRICS})
    if "top1" not in measured:
        raise PushError(
            f"no measured top-1 for {spec.name}: pass metrics (a dict, or `--metrics FILE` with the "
            "output of `zoo eval --json`); every published weight states its accuracy"
        )

    def provenance(key: str, *aliases: str) -> Any:
        value = metrics.get(key)
        return value if value is not None else _meta_value(metadata, key, *aliases)

    dataset = provenance("dataset", "data", "identity") or spec.dataset
    if dataset not in DATASET_IDENTITIES:
        raise PushError(
            f"data set identity {dataset!r} cannot be published; it must be one of "
            f'{", ".join(DATASET_IDENTITIES)} (pass "dataset" in the metrics)'
        )
    recipe = provenance("recipe")
    epochs = provenance("epochs", "epoch")
    extra = {key: provenance(key) for key in _OPTIONAL_PROVENANCE if provenance(key) is not None}
    return {
        "repo_id": repo_id,
        "revision": "0" * 40,  # replaced by the commit
        "files": [],
        "dtype": _dtype_name(model.state_dict()),
        "dataset": dataset,
        "num_classes": model.num_classes,
        "params": sum(p.numel() for p in model.parameters()),
        "metrics": measured,
        "recipe": recipe if isinstance(recipe, str) or recipe is None else json.dumps(recipe, sort_keys=True),
        "epochs": int(epochs) if epochs is not None else None,
        "device": provenance("device"),
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "zoo_version": __version__,
        **extra,
    }


def _write_repo_files(folder: Path, spec, model, options, entry, tag, metadata, max_shard_size) -> list[str]:
    """Weights (sharded above `max_shard_size`), config.json, README.md in `folder`; the weights' names."""
    from huggingface_hub import save_torch_state_dict

    zoo_meta = {
        "zoo.model": spec.name,
        "zoo.num_classes": str(model.num_classes),
        "zoo.options": json.dumps(options, sort_keys=True),
        "zoo.tag": tag,
        "zoo.dataset": entry["dataset"],
    }
    kwargs = {"max_shard_size": max_shard_size} if max_shard_size is not None else {}
    save_torch_state_dict(model.state_dict(), folder, metadata=zoo_meta, **kwargs)
    names = sorted(p.name for p in folder.iterdir() if _WEIGHTS_FILE.match(p.name))
    entry["files"] = [
        {"name": n, "sha256": sha256_of(folder / n), "size": (folder / n).stat().st_size} for n in names
    ]
    config = build_config(spec, entry, tag, options, normalisation_from(metadata))
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / "README.md").write_text(build_model_card(spec, entry, tag))
    return names


def _upload(
    folder: Path, weight_names: list[str], repo_id: str, *, private: bool, token: str | None, message: str
) -> tuple[str, str]:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi(token=token)
    doing = "create"
    try:
        with quiet_client():
            api.create_repo(repo_id, private=private, exist_ok=True)
            doing = "commit to"
            stale = [p for p in api.list_repo_files(repo_id) if _WEIGHTS_FILE.match(p)]
            ops = [CommitOperationDelete(p) for p in stale if p not in weight_names]
            ops += [CommitOperationAdd(p.name, str(p)) for p in sorted(folder.iterdir())]
            info = api.create_commit(repo_id, ops, commit_message=message)
    except Exception as error:
        raise translate(error, repo_id=repo_id, doing=doing) from error
    return info.oid, str(info.commit_url)


@dataclass(frozen=True)
class _Release:
    spec: Any
    tag: str
    model: Any
    options: dict[str, Any]
    entry: dict[str, Any]
    metadata: dict[str, str]


class RepoIdError(PushError, ValueError):
    """A Hub repo id that is not ORG/NAME: refused before anything is loaded or written."""


def check_repo_id(repo_id: str) -> str:
    """`repo_id` if the manifest can record it, else `RepoIdError` (the manifest's own rule)."""
    valid, what = field_rule("repo_id")
    if not valid(repo_id):
        raise RepoIdError(f"--repo-id {repo_id!r} is not {what} (letters, digits, '.', '_', '-')")
    return repo_id


def _prepare(model: str, checkpoint: str | Path, repo_id: str, tag: str | None, metrics) -> _Release:
    """Load the checkpoint and build its manifest entry: everything a push needs but the upload."""
    from ..checkpoint import (  # torch and safetensors: `import zoo.hub` stays cheap
        CheckpointError,
        load_model,
        load_state,
        read_metadata,
        resolve_model_file,
    )

    check_repo_id(repo_id)
    base, tag_in_name = split_name(model)
    spec = registry().get(base)
    published = load_manifest()  # a broken manifest fails now, not after the upload
    try:
        file = resolve_model_file(checkpoint)
        metadata = read_metadata(file)
        if metadata.get("zoo.model") != base:
            raise PushError(f"{file} holds weights of {metadata.get('zoo.model')!r}, not {base!r}")
        net, metadata = load_model(file)
        stored = {t.dtype for t in load_state(file).values() if t.is_floating_point()}
        if len(stored) == 1:  # float16/bfloat16 weights stay so: the release holds the bytes measured
            net = net.to(stored.pop())
    except CheckpointError as error:
        raise PushError(str(error)) from None
    options = {**spec.kwargs, **json.loads(metadata.get("zoo.options", "{}"))}
    options.pop("num_classes", None)
    entry = build_entry(spec, metadata, net, read_metrics(metrics), repo_id)
    tag = tag or tag_in_name or next(iter(published.get(base, {})), None) or entry["dataset"]
    return _Release(spec, tag, net, options, entry, metadata)


def _write_release(release: _Release, folder: Path, max_shard_size) -> list[str]:
    names = _write_repo_files(
        folder,
        release.spec,
        release.model,
        release.options,
        release.entry,
        release.tag,
        release.metadata,
        max_shard_size,
    )
    validate_entry(release.spec.name, release.tag, release.entry)  # fails before anything leaves
    return names


def _finish(
    release_model: str, tag: str, repo_id: str, revision: str | None, url: str, entry, update_manifest
):
    entry["revision"] = revision
    path = write_entry(release_model, tag, entry) if update_manifest else None
    return PushResult(release_model, tag, repo_id, revision, url, entry, path)


def push(
    model: str,
    checkpoint: str | Path,
    repo_id: str,
    *,
    tag: str | None = None,
    private: bool = False,
    token: str | None = None,
    metrics: dict[str, Any] | str | Path | None = None,
    max_shard_size: int | str | None = None,
    commit_message: str | None = None,
    update_manifest: bool = True,
) -> PushResult:
    """Publish a `zoo train` checkpoint as ``repo_id`` and record the commit in the weights manifest.

    Uploads model.safetensors (sharded with an index above `max_shard_size`, default 5GB),
    config.json and a README.md model card; creates the repo if needed. The manifest entry
    (`manifest_path()`) gets the new commit sha as its pinned revision and each file's sha256/size.

    Args:
        model: registered name (``"resnet18"`` or ``"resnet18.tag"``); the checkpoint must hold it.
        checkpoint: a zoo model file or a run directory (see `zoo.checkpoint.resolve_model_file`).
        repo_id: ``"org/name"`` on the Hub (``HF_ENDPOINT`` is honoured).
        tag: weights tag; default: the model's current default tag, else its data set identity.
        metrics: a dict or JSON file of top1 (required unless the checkpoint records it), top1_tta,
            loss, exact_top1, and optionally dataset, recipe, epochs, device.
    """
    if offline():
        raise PushError("cannot push with HF_HUB_OFFLINE=1 set: unset it to reach the Hub")
    release = _prepare(model, checkpoint, repo_id, tag, metrics)
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        folder = Path(tmp)
        names = _write_release(release, folder, max_shard_size)
        revision, url = _upload(
            folder,
            names,
            repo_id,
            private=private,
            token=token,
            message=commit_message or f"zoo push {release.spec.name}.{release.tag}",
        )
    return _finish(release.spec.name, release.tag, repo_id, revision, url, release.entry, update_manifest)


def export(
    model: str,
    checkpoint: str | Path,
    folder: str | Path,
    repo_id: str,
    *,
    tag: str | None = None,
    metrics: dict[str, Any] | str | Path | None = None,
    max_shard_size: int | str | None = None,
    update_manifest: bool = True,
) -> PushResult:
    """Write exactly the files `push` would upload into `folder`, without any network.

    The manifest entry is recorded with ``revision: null``: the weights load from
    ``ZOO_WEIGHTS_DIR`` (a folder holding `folder`) until `push_folder` uploads them and pins the commit.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise PushError(f"{folder} is not empty: export into a new folder so no stale file is published")
    release = _prepare(model, checkpoint, repo_id, tag, metrics)
    folder.mkdir(parents=True, exist_ok=True)
    _write_release(release, folder, max_shard_size)
    return _finish(release.spec.name, release.tag, repo_id, None, "", release.entry, update_manifest)


def push_folder(
    model: str,
    folder: str | Path,
    *,
    repo_id: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
    update_manifest: bool = True,
) -> PushResult:
    """Upload a folder written by `export` as it is, and pin the new commit in its manifest entry.

    The files are checked against the entry first, so what is uploaded is what was exported.
    `repo_id` defaults to the entry's.
    """
    if offline():
        raise PushError("cannot push with HF_HUB_OFFLINE=1 set: unset it to reach the Hub")
    base, tag, entry = manifest_entry(model)
    entry = json.loads(json.dumps(entry))  # a private copy: the cached manifest stays untouched
    repo_id = check_repo_id(repo_id or entry["repo_id"])
    folder = Path(folder)
    for f in entry["files"]:
        path = folder / f["name"]
        if not path.is_file():
            raise PushError(f"{folder} lacks {f['name']}, which the manifest entry {base}.{tag} lists")
        if path.stat().st_size != f["size"] or sha256_of(path) != f["sha256"]:
            raise PushError(
                f"{path} is not the file the manifest entry {base}.{tag} records (size or sha256 differ); "
                "export again rather than publish bytes nobody measured"
            )
    revision, url = _upload(
        folder,
        [f["name"] for f in entry["files"]],
        repo_id,
        private=private,
        token=token,
        message=commit_message or f"zoo push {base}.{tag}",
    )
    entry["repo_id"] = repo_id
    return _finish(base, tag, repo_id, revision, url, entry, update_manifest)
