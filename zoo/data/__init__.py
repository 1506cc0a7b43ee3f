"""Data: CIFAR-10 and MNIST as in-memory uint8 tensors, and a device-resident batch loader.

    >>> from zoo.data import load_dataset, split_validation, DeviceLoader
    >>> train = load_dataset("cifar10", "train")          # downloads to default_data_dir() if absent
    >>> train, val = split_validation(train, 5000)
    >>> loader = DeviceLoader(train, 512, train=True, device="cuda")
    >>> for epoch in range(10):
    ...     loader.set_epoch(epoch)
    ...     for x, y in loader: ...

Importing this package loads torch and numpy but not torchvision (only a download needs it).
"""

from .array_dataset import ArrayDataset, DatasetError, split_validation
from .augment import Augment
from .datasets import CLASS_NAMES, DATASETS, NORMALISATION, default_data_dir, load_dataset
from .loader import DeviceLoader

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "ArrayDataset",
    "Augment",
    "DatasetError",
    "DeviceLoader",
    "NORMALISATION",
    "default_data_dir",
    "load_dataset",
    "split_validation",
]
