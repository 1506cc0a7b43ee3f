"""Published weights: the manifest, which tags exist, where their files are, verification, reading.

    >>> from zoo import weights
    >>> weights.weight_tags("lenet5")                 # ['cifar10-jpeg'], the default first
    >>> weights.manifest_entry("lenet5")              # ('lenet5', 'cifar10-jpeg', {...entry...})
    >>> weights.pull("lenet5")                        # fill the cache, verified, for offline use

`zoo.create(name, pretrained=True)` builds on this; `zoo.hub` publishes. Importing it loads
neither torch nor huggingface_hub.
"""

from ._client import (
    HubAuthError,
    HubError,
    HubFileNotFoundError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnreachableError,
    WeightsNotCachedError,
)
from ._read import WeightsFileError, WeightsShapeError, read_weights
from ._verify import ChecksumMismatchError, move_aside, verify_file
from .lookup import (
    NoPublishedWeightsError,
    NotOnHubError,
    fetch_files,
    load_manifest,
    manifest_entry,
    pull,
    repo_dir_name,
    resolve_tag,
    weight_tags,
    weights_entry,
)
from .manifest import manifest_path, write_entry

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
    "WeightsFileError",
    "WeightsNotCachedError",
    "WeightsShapeError",
    "fetch_files",
    "load_manifest",
    "manifest_entry",
    "manifest_path",
    "move_aside",
    "pull",
    "read_weights",
    "repo_dir_name",
    "resolve_tag",
    "verify_file",
    "weight_tags",
    "weights_entry",
    "write_entry",
]
