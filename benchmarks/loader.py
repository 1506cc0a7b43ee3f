"""Throughput of DeviceLoader against torchvision's DataLoader + PIL transforms, side by side.

Both produce the same thing: batches of 512 CIFAR-10 training images, randomly cropped (padding 4),
randomly flipped and normalised. DeviceLoader does it with batched tensor ops on the whole uint8
data set; the baseline decodes each image into PIL and runs RandomCrop / RandomHorizontalFlip /
ToTensor / Normalize per image (num_workers 0 and 2). Prints images per second and the ratios.

    ZOO_DATA_DIR=../shared/data python benchmarks/loader.py            # the offline cifar10-jpeg copy
    python benchmarks/loader.py --device cuda --pil-samples 20000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from zoo.data import Augment, DeviceLoader, load_dataset


class PILCifar(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: HWC uint8 -> PIL image -> transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def images_per_second(batches, device: torch.device) -> float:
    """Consume `batches` (the first one is a warm-up, not timed) and return images / second."""
    iterator = iter(batches)
    next(iterator)
    start, count = time.perf_counter(), 0
    for x, _ in iterator:
        x = x.to(device)
        count += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="default: zoo.data.default_data_dir()")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2, help="DeviceLoader epochs timed (the best is kept)")
    parser.add_argument("--pil-samples", type=int, default=10000, help="images in the PIL baseline's pass")
    args = parser.parse_args()

    from torchvision import transforms

    device = torch.device(args.device)
    train = load_dataset("cifar10", "train", args.data_dir)
    print(
        f"data: {train!r}; device: {device}; torch threads: {torch.get_num_threads()}; "
        f"CPUs: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}"
    )

    loader = DeviceLoader(train, args.batch_size, train=True, device=device, augment=Augment(4, True))
    default_threads = torch.get_num_threads()
    device_rates = {}
    # On a CPU shared with other work, one intra-op thread can beat several: report both.
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        rates = []
        for epoch in range(args.epochs):
            loader.set_epoch(epoch)
            rates.append(images_per_second(loader, device))
        device_rates[threads] = max(rates)
    torch.set_num_threads(default_threads)
    device_rate = max(device_rates.values())

    transform = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(train.mean, train.std),
        ]
    )
    subset = train.subset(slice(0, args.pil_samples))
    pil_data = PILCifar(subset.images.permute(0, 2, 3, 1).numpy(), subset.labels.numpy(), transform)
    pil_rates = {}
    for workers in (0, 2):
        pil_loader = torch.utils.data.DataLoader(
            pil_data, args.batch_size, shuffle=True, num_workers=workers, drop_last=False
        )
        pil_rates[workers] = images_per_second(pil_loader, device)

    print(f"{'loader':<44}{'img/s':>12}")
    for threads, rate in device_rates.items():
        print(f"{f'DeviceLoader, crop+flip, {threads} torch thread(s)':<44}{rate:>12,.0f}")
    for workers, rate in pil_rates.items():
        print(f"{f'DataLoader + PIL transforms, num_workers={workers}':<44}{rate:>12,.0f}")
    for workers, rate in pil_rates.items():
        print(f"ratio DeviceLoader (best) / PIL num_workers={workers}: {device_rate / rate:.1f}x")


if __name__ == "__main__":
    main()
