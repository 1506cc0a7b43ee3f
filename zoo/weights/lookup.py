"""Published weights, all of their lookup in one place: which tags exist, the default tag, which
entry a name means, where its files are, and their verification.

Entries come from the shipped manifest (or ZOO_MANIFEST's) and then from plugins' manifests
(``zoo_register_weights``); a plugin cannot replace a shipped tag. A model's first tag is its default.
Files are looked for in ``$ZOO_WEIGHTS_DIR/<repo-name>/``, then beside the plugin manifest that names
them, then in the huggingface_hub cache, then on the Hub, always at the manifest's pinned commit.
Every file returned has been checked against the manifest's sha256 and size (`verify_file`).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from .._files import replacing, zoo_cache_dir
from .._registry import registry, split_name
from .._version import __version__
from ._client import HubError, probe, quiet_client, translate
from ._client import offline as _offline
from ._verify import verify_file
from .manifest import MANIFEST_NAME, load_base_manifest, manifest_path

logger = logging.getLogger("zoo")

Entry = dict[str, Any]


class NoPublishedWeightsError(HubError, LookupError):
    """The model (or the requested tag) has no published weights: no entry in the weights manifest."""


class NotOnHubError(HubError):
    """The manifest entry pins no revision: the weights were exported but not uploaded yet."""


def load_manifest() -> dict[str, dict[str, Entry]]:
    """Model name -> {tag -> entry}: the shipped manifest's, then those plugins register."""
    base = load_base_manifest()
    contributed = registry().plugin_weights()
    if not contributed:
        return base
    # Merged once per manifest read and plugin load (both are cached objects): one warning per clash.
    if _MERGED.get("base") is not base or _MERGED.get("contributed") is not contributed:
        _MERGED.update(base=base, contributed=contributed, value=_merge(base, contributed))
    return _MERGED["value"]


_MERGED: dict[str, Any] = {}


def _merge(base: dict, contributed: dict) -> dict[str, dict[str, Entry]]:
    merged = {model: dict(tags) for model, tags in base.items()}
    for key, (entry, path) in contributed.items():
        model, _, tag = key.partition(".")
        if tag in base.get(model, {}):
            logger.warning(
                "weights %r in %s from plugin %r are refused: %s publishes them already "
                "(a plugin adds tags, it cannot replace them)",
                key,
                path,
                registry().owner("weights", key),
                manifest_path(),
            )
            continue
        merged.setdefault(model, {})[tag] = entry
    return merged


def weight_tags(model: str) -> list[str]:
    """The published weights tags for `model`, the default first."""
    return list(load_manifest().get(model, {}))


def weights_entry(model: str, tag: str) -> Entry | None:
    """The manifest entry of `model`'s weights `tag`, or None."""
    return load_manifest().get(model, {}).get(tag)


def _none_published(model: str) -> str:
    """The "no weights" error: how many models have them, and how to make these ones."""
    have = sum(1 for name in registry().names() if load_manifest().get(name))
    return (
        f"no published weights for {model!r} yet ({have} of {len(registry().names())} models have "
        f"them: `zoo list --pretrained`); train your own with `zoo train {model} --out RUN` "
        f"(`zoo eval {model} --checkpoint RUN` then evaluates it)"
    )


def manifest_entry(model: str, tag: str | None = None) -> tuple[str, str, Entry]:
    """(model, tag, entry) for ``model``, ``model.tag`` or an explicit `tag` (default tag if none)."""
    base, tag_in_name = split_name(model)
    registry().get(base)  # an unknown name is UnknownModelError (with "did you mean"), not "no weights"
    tag = tag or tag_in_name
    published = load_manifest().get(base, {})
    if not published:
        raise NoPublishedWeightsError(_none_published(base))
    tags = list(published)
    tag = tag or tags[0]
    entry = published.get(tag)
    if entry is None:
        raise NoPublishedWeightsError(
            f"no weights tagged {tag!r} for {base!r}; published tags: {', '.join(tags)}"
        )
    return base, tag, entry


def resolve_tag(name: str, pretrained: bool | str = True) -> str:
    """The weights tag `name` asks for: from ``name.tag``, ``pretrained="tag"`` or the default."""
    return manifest_entry(name, pretrained if isinstance(pretrained, str) else None)[1]


def plugin_weights_folder(repo_id: str) -> Path | None:
    """The folder of the plugin manifest whose entries name `repo_id`: a plugin may ship the files
    in ``<that folder>/<repo name>/`` (None when no plugin manifest names the repo)."""
    for entry, path in registry().plugin_weights().values():
        if entry["repo_id"] == repo_id:
            return Path(path).parent
    return None


def repo_dir_name(repo_id: str) -> str:
    """The folder name of a repo inside ZOO_WEIGHTS_DIR: the part after the '/'."""
    return repo_id.rsplit("/", 1)[-1]


PULLED_DIR = "weights"  # inside zoo's cache: what `zoo pull --from DIR` copied, one <repo name>/ each
_ANNOUNCED: set[str] = set()


def pulled_dir() -> Path:
    """Where `pull(from_dir=...)` puts verified copies: ``<zoo cache>/weights/<repo name>/``."""
    return zoo_cache_dir() / PULLED_DIR


def checkout_releases() -> Path | None:
    """The releases/ folder of the zoo checkout in use: beside the manifest zoo reads (a source
    install), else beside a weights_manifest.json in the working directory or one above it."""
    candidates = [manifest_path().parent]
    if not os.environ.get("ZOO_MANIFEST"):
        here = Path.cwd().resolve()
        candidates += [folder for folder in (here, *here.parents) if (folder / MANIFEST_NAME).is_file()][:1]
    for folder in candidates:
        if (folder / "releases").is_dir():
            return folder / "releases"
    return None


def local_folders() -> list[tuple[str, Path]]:
    """(what it is, folder) of every local folder holding ``<repo name>/`` copies, in search order."""
    folders = []
    if os.environ.get("ZOO_WEIGHTS_DIR"):
        folders.append(("ZOO_WEIGHTS_DIR", Path(os.environ["ZOO_WEIGHTS_DIR"]).expanduser()))
    folders.append(("zoo's weights cache", pulled_dir()))
    releases = checkout_releases()
    if releases is not None:
        folders.append(("the checkout's releases/", releases))
    return folders


def _in_folder(entry: Entry, folder: Path) -> dict[str, Path] | None:
    paths = {f["name"]: folder / repo_dir_name(entry["repo_id"]) / f["name"] for f in entry["files"]}
    return paths if all(path.is_file() for path in paths.values()) else None


def _from_local_folders(entry: Entry) -> dict[str, Path] | None:
    for what, folder in local_folders():
        paths = _in_folder(entry, folder)
        if paths is None:
            if what == "ZOO_WEIGHTS_DIR" and (folder / repo_dir_name(entry["repo_id"])).is_dir():
                logger.warning(
                    "ZOO_WEIGHTS_DIR: %s lacks some of %s; looking elsewhere",
                    folder / repo_dir_name(entry["repo_id"]),
                    ", ".join(f["name"] for f in entry["files"]),
                )
            continue
        if what == "the checkout's releases/" and entry["repo_id"] not in _ANNOUNCED:
            _ANNOUNCED.add(entry["repo_id"])  # said once: nobody set this folder, zoo found it
            logger.info(
                "weights %s from %s (set ZOO_WEIGHTS_DIR to use another folder)", entry["repo_id"], folder
            )
        return paths
    return None


def _from_plugin(entry: Entry) -> dict[str, Path] | None:
    """Files a plugin ships beside the manifest it registered, in ``<its folder>/<repo name>/``."""
    folder = plugin_weights_folder(entry["repo_id"])
    return None if folder is None else _in_folder(entry, folder)


def _from_cache(entry: Entry) -> dict[str, Path] | None:
    from huggingface_hub import try_to_load_from_cache

    paths = {}
    for f in entry["files"]:
        cached = try_to_load_from_cache(entry["repo_id"], f["name"], revision=entry["revision"])
        if not isinstance(cached, str):
            return None
        paths[f["name"]] = Path(cached)
    return paths


def _from_hub(entry: Entry, token: str | bool | None) -> dict[str, Path]:
    from huggingface_hub import hf_hub_download

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


def _not_on_hub(entry: Entry) -> NotOnHubError:
    folder, root = repo_dir_name(entry["repo_id"]), os.environ.get("ZOO_WEIGHTS_DIR")
    files = ", ".join(f["name"] for f in entry["files"])
    where = (
        f"ZOO_WEIGHTS_DIR={root} has no {folder}/ holding {files}: put the exported {folder}/ folder "
        "there, e.g. the releases/ folder of a zoo checkout"
        if root
        else f"run `zoo pull --from DIR` once, DIR holding {folder}/ (e.g. the releases/ folder of a zoo "
        f"checkout: `git clone --depth 1` gets one), or set ZOO_WEIGHTS_DIR to such a folder"
    )
    return NotOnHubError(
        f"the weights of {entry['repo_id']} are not on the Hub yet (the manifest pins no revision): {where}"
    )


def fetch_files(entry: Entry, *, token: str | bool | None = None) -> dict[str, Path]:
    """File name -> verified local path for a manifest entry (downloading only what is missing)."""
    paths = _from_local_folders(entry) or _from_plugin(entry)
    if paths is None and entry["revision"] is None:
        raise _not_on_hub(entry)
    paths = paths or _from_cache(entry) or _from_hub(entry, token)
    expected = {f["name"]: f for f in entry["files"]}
    return {
        name: verify_file(path, expected[name]["sha256"], expected[name]["size"])
        for name, path in paths.items()
    }


class PullSourceError(HubError, LookupError):
    """`pull(from_dir=...)` was given a folder that does not hold the weights asked for."""


def _copy_verified(entry: Entry, source: dict[str, Path]) -> dict[str, Path]:
    """Copy verified files into zoo's weights cache; the copies' paths (verified again)."""
    target = pulled_dir() / repo_dir_name(entry["repo_id"])
    target.mkdir(parents=True, exist_ok=True)
    copied = {}
    for f in entry["files"]:
        verify_file(source[f["name"]], f["sha256"], f["size"], rehash=True)
        path = target / f["name"]
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp:
            shutil.copyfile(source[f["name"]], tmp)
        copied[f["name"]] = verify_file(path, f["sha256"], f["size"], rehash=True)
    return copied


def pull(
    model: str | None = None,
    tag: str | None = None,
    *,
    all_models: bool = False,
    token: str | bool | None = None,
    from_dir: str | Path | None = None,
) -> dict[str, list[Path]]:
    """Fill the cache with verified weights, for later offline use; ``"model.tag"`` -> file paths.

    One model (its default tag, `tag`, or the tag in ``"model.tag"``), or with `all_models` every
    model's every tag (only `tag` if given). With `from_dir` (a folder of ``<repo name>/`` copies,
    such as a checkout's releases/) the files are copied from there into zoo's weights cache, each
    checked against the manifest first; with `all_models`, weights the folder lacks are skipped.
    Without it, they come from wherever `fetch_files` finds them (the Hub at worst).
    """
    if all_models:
        wanted = [(name, t) for name, tags in load_manifest().items() for t in tags if tag in (None, t)]
        if tag and not wanted:
            raise NoPublishedWeightsError(f"no model in the manifest has weights tagged {tag!r}")
    elif model is None:
        raise ValueError("pull() needs a model name or all_models=True")
    else:
        wanted = [manifest_entry(model, tag)[:2]]
    if from_dir is not None and not Path(from_dir).is_dir():
        raise PullSourceError(f"--from {from_dir}: no such folder; give a folder holding <repo name>/ copies")
    pulled = {}
    for name, t in wanted:
        entry = manifest_entry(name, t)[2]
        if from_dir is None:
            pulled[f"{name}.{t}"] = list(fetch_files(entry, token=token).values())
            continue
        source = _in_folder(entry, Path(from_dir))
        if source is None:
            if all_models:
                continue
            raise PullSourceError(
                f"--from {from_dir}: no {repo_dir_name(entry['repo_id'])}/ holding "
                f"{', '.join(f['name'] for f in entry['files'])} for {name}.{t}"
            )
        pulled[f"{name}.{t}"] = list(_copy_verified(entry, source).values())
    if from_dir is not None and not pulled:
        raise PullSourceError(
            f"--from {from_dir}: it holds none of the published weights (<repo name>/ folders)"
        )
    return pulled


def source_of(entry: Entry, *, short: bool = False) -> str:
    """Where `fetch_files` would take `entry`'s files from now, in a few words (or one, `short`);
    nothing is read or downloaded."""
    for what, folder in local_folders():
        if _in_folder(entry, folder) is not None:
            brief = {"zoo's weights cache": "cache", "the checkout's releases/": "releases/"}.get(what, what)
            return brief if short else f"{what} ({folder})"
    if _from_plugin(entry) is not None:
        return "plugin" if short else "its plugin's folder"
    if entry["revision"] is None:
        return "unreachable" if short else "not reachable: not on the Hub yet (`zoo pull --from DIR`)"
    pinned = f"{entry['repo_id']}@{entry['revision'][:12]}"
    if _from_cache(entry) is not None:
        return "HF cache" if short else f"Hugging Face cache ({pinned})"
    return "Hub" if short else f"Hub {pinned} (downloaded on first use)"
