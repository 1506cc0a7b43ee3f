"""Publishing weights to the Hugging Face Hub, and the names of zoo's Hub-facing API in one place.

    >>> import zoo
    >>> model = zoo.create("lenet5", pretrained=True)        # verified, pinned, safetensors only
    >>> zoo.hub.pull("lenet5")                                 # fill the cache for offline use
    >>> zoo.hub.push("lenet5", checkpoint="runs/lenet5", repo_id="org/lenet5-cifar10", metrics="eval.json")

Where weights come from, in order: ``$ZOO_WEIGHTS_DIR/<repo-name>/<files>``, a plugin's folder, the
huggingface_hub cache, the Hub (``HF_ENDPOINT`` honoured, always at the manifest's pinned commit;
``HF_HUB_OFFLINE=1`` stops there); zoo.weights does the finding and checking, this package the
publishing (push, export, the model card). Importing it is cheap: torch, safetensors and
huggingface_hub load inside the functions.
"""

from .._builder import PretrainedWeightsWarning, load_pretrained
from .._files import sha256_of, zoo_cache_dir
from ..weights import (
    ChecksumMismatchError,
    HubAuthError,
    HubError,
    HubFileNotFoundError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnreachableError,
    NoPublishedWeightsError,
    NotOnHubError,
    WeightsFileError,
    WeightsNotCachedError,
    WeightsShapeError,
    fetch_files,
    manifest_entry,
    move_aside,
    pull,
    read_weights,
    repo_dir_name,
    verify_file,
)
from ._push import PushError, PushResult, export, push, push_folder, read_metrics

__all__ = [
    "ChecksumMismatchError",
    "HubAuthError",
    "HubError",
    "HubFileNotFoundError",
    "HubRepoNotFoundError",
    "HubRevisionNotFoundError",
    "HubUnreachableError",
    "NoPublishedWeightsError",
    "NotOnHubError",
    "PretrainedWeightsWarning",
    "PushError",
    "PushResult",
    "WeightsFileError",
    "WeightsNotCachedError",
    "WeightsShapeError",
    "export",
    "fetch_files",
    "load_pretrained",
    "manifest_entry",
    "move_aside",
    "pull",
    "push",
    "push_folder",
    "read_metrics",
    "read_weights",
    "repo_dir_name",
    "sha256_of",
    "verify_file",
    "zoo_cache_dir",
]
