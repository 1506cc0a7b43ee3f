"""Published weights through the Hugging Face Hub: verified, pinned, safetensors-only loading, and publishing.

    >>> import zoo
    >>> model = zoo.create("lenet5", pretrained=True)        # calls zoo.hub.load_pretrained
    >>> zoo.hub.pull("lenet5")                                 # fill the cache for offline use
    >>> zoo.hub.push("lenet5", checkpoint="runs/lenet5", repo_id="org/lenet5-cifar10", metrics="eval.json")

Where weights come from, in order: ``$ZOO_WEIGHTS_DIR/<repo-name>/<files>``, the huggingface_hub cache,
the Hub (``HF_ENDPOINT`` honoured, always at the manifest's pinned commit; ``HF_HUB_OFFLINE=1`` stops
there). Every file's sha256 and size are checked against weights_manifest.json before loading.

Importing this package is cheap: torch, safetensors and huggingface_hub load inside the functions.
"""

from ._errors import (
    ChecksumMismatchError,
    HubAuthError,
    HubError,
    HubFileNotFoundError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnreachableError,
    NoPublishedWeightsError,
    NotOnHubError,
    PushError,
    WeightsFileError,
    WeightsNotCachedError,
    WeightsShapeError,
)
from ._fetch import fetch_files, manifest_entry, pull, repo_dir_name
from ._load import PretrainedWeightsWarning, load_pretrained, read_weights
from ._push import PushResult, export, push, push_folder, read_metrics
from ._verify import move_aside, sha256_of, verify_file, zoo_cache_dir

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
    "fetch_files",
    "load_pretrained",
    "manifest_entry",
    "move_aside",
    "pull",
    "export",
    "push",
    "push_folder",
    "read_metrics",
    "read_weights",
    "repo_dir_name",
    "sha256_of",
    "verify_file",
    "zoo_cache_dir",
]
