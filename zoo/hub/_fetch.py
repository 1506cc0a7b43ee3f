"""Finding a manifest entry's files: ZOO_WEIGHTS_DIR, then the huggingface_hub cache, then the Hub.

Every file returned has been checked against the manifest's sha256 and size (`verify_file`).
The revision is always the pinned commit of the manifest, never a branch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from .._manifest import load_manifest, plugin_weights_folder
from .._registry import registry, split_name
from ._client import probe, quiet_client
from ._errors import NoPublishedWeightsError, NotOnHubError, translate
from ._errors import offline as _offline
from ._verify import verify_file

logger = logging.getLogger(__name__)


def manifest_entry(model: str, tag: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """(model, tag, entry) for ``model``, ``model.tag`` or an explicit `tag` (default tag if none)."""
    base, tag_in_name = split_name(model)
    registry().get(base)  # an unknown name is UnknownModelError (with "did you mean"), not "no weights"
    tag = tag or tag_in_name
    published = load_manifest().get(base, {})
    if not published:
        raise NoPublishedWeightsError(
            f"no published weights for {base!r} in the manifest; "
            "`zoo list --pretrained` shows the models that have them"
        )
    tags = list(published)
    tag = tag or tags[0]
    entry = published.get(tag)
    if entry is None:
        raise NoPublishedWeightsError(
            f"no weights tagged {tag!r} for {base!r}; published tags: {', '.join(tags)}"
        )
    return base, tag, entry


def repo_dir_name(repo_id: str) -> str:
    """The folder name of a repo inside ZOO_WEIGHTS_DIR: the part after the '/'."""
    return repo_id.rsplit("/", 1)[-1]


def _from_weights_dir(entry: dict[str, Any]) -> dict[str, Path] | None:
    root = os.environ.get("ZOO_WEIGHTS_DIR")
    if not root:
        return None
    folder = Path(root).expanduser() / repo_dir_name(entry["repo_id"])
    paths = {f["name"]: folder / f["name"] for f in entry["files"]}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        if len(missing) < len(paths):
            logger.warning(
                "ZOO_WEIGHTS_DIR: %s lacks %s; looking in the cache instead", folder, ", ".join(missing)
            )
        return None
    return paths


def _from_plugin(entry: dict[str, Any]) -> dict[str, Path] | None:
    """Files a plugin ships beside the manifest it registered, in ``<its folder>/<repo name>/``."""
    folder = plugin_weights_folder(entry["repo_id"])
    if folder is None:
        return None
    paths = {f["name"]: folder / repo_dir_name(entry["repo_id"]) / f["name"] for f in entry["files"]}
    return paths if all(path.is_file() for path in paths.values()) else None


def _from_cache(entry: dict[str, Any]) -> dict[str, Path] | None:
    from huggingface_hub import try_to_load_from_cache

    paths = {}
    for f in entry["files"]:
        cached = try_to_load_from_cache(entry["repo_id"], f["name"], revision=entry["revision"])
        if not isinstance(cached, str):
            return None
        paths[f["name"]] = Path(cached)
    return paths


def _from_hub(entry: dict[str, Any], token: str | bool | None) -> dict[str, Path]:
    from huggingface_hub import hf_hub_download

    from .. import __version__

    paths, offline = {}, _offline()
    for i, f in enumerate(entry["files"]):
        try:
            with quiet_client():
                if i == 0 and not offline:  # an unreachable Hub fails here, fast (see _client)
                    probe(entry["repo_id"], f["name"], entry["revision"], token)
                paths[f["name"]] = Path(
                    hf_hub_download(
                        entry["repo_id"],
                        f["name"],
                        revision=entry["revision"],
                        token=token,
                        local_files_only=offline,
                        library_name="zoo",
                        library_version=__version__,
                    )
                )
        except Exception as error:
            raise translate(
                error, repo_id=entry["repo_id"], revision=entry["revision"], filename=f["name"]
            ) from error
    return paths


def _not_on_hub(entry: dict[str, Any]) -> NotOnHubError:
    folder, root = repo_dir_name(entry["repo_id"]), os.environ.get("ZOO_WEIGHTS_DIR")
    files = ", ".join(f["name"] for f in entry["files"])
    where = (
        f"ZOO_WEIGHTS_DIR={root} has no {folder}/ holding {files}: put the exported {folder}/ folder there"
        if root
        else f"set ZOO_WEIGHTS_DIR to a folder holding {folder}/"
    )
    return NotOnHubError(
        f"the weights of {entry['repo_id']} are not on the Hub yet (the manifest pins no revision): "
        f"{where}, e.g. the releases/ folder of a zoo checkout"
    )


def fetch_files(entry: dict[str, Any], *, token: str | bool | None = None) -> dict[str, Path]:
    """File name -> verified local path for a manifest entry (downloading only what is missing)."""
    paths = _from_weights_dir(entry) or _from_plugin(entry)
    if paths is None and entry["revision"] is None:
        raise _not_on_hub(entry)
    paths = paths or _from_cache(entry) or _from_hub(entry, token)
    expected = {f["name"]: f for f in entry["files"]}
    return {
        name: verify_file(path, expected[name]["sha256"], expected[name]["size"])
        for name, path in paths.items()
    }


def pull(
    model: str | None = None,
    tag: str | None = None,
    *,
    all_models: bool = False,
    token: str | bool | None = None,
) -> dict[str, list[Path]]:
    """Fill the cache with verified weights, for later offline use; ``"model.tag"`` -> file paths.

    One model (its default tag, `tag`, or the tag in ``"model.tag"``), or with `all_models` every
    model's every tag (only `tag` if given).
    """
    if all_models:
        wanted = [(name, t) for name, tags in load_manifest().items() for t in tags if tag in (None, t)]
        if tag and not wanted:
            raise NoPublishedWeightsError(f"no model in the manifest has weights tagged {tag!r}")
    elif model is None:
        raise ValueError("pull() needs a model name or all_models=True")
    else:
        wanted = [manifest_entry(model, tag)[:2]]
    pulled = {}
    for name, t in wanted:
        paths = fetch_files(manifest_entry(name, t)[2], token=token)
        pulled[f"{name}.{t}"] = list(paths.values())
    return pulled
