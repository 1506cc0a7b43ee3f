"""DeviceLoader and Augment: crop/flip statistics and exactness, determinism, DDP shards, eval, layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zoo.data import ArrayDataset, Augment, DeviceLoader, load_dataset

MEAN, STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
CROP_FLIP = Augment(crop_padding=4, flip=True)


def pattern_dataset(n: int = 4096) -> ArrayDataset:
    """Pixel values say where they come from: channel 0 = row + 1, channel 1 = column + 1, 2 = a tag."""
    rows = torch.arange(1, 33).view(1, 32, 1).expand(n, 32, 32)
    cols = torch.arange(1, 33).view(1, 1, 32).expand(n, 32, 32)
    tags = (torch.arange(n) % 200 + 1).view(n, 1, 1).expand(n, 32, 32)
    images = torch.stack([rows, cols, tags], 1).to(torch.uint8)
    return ArrayDataset(images, torch.arange(n) % 10, "pattern", tuple("abcdefghij"), MEAN, STD)


def constant_dataset(n: int = 2000, value: int = 200) -> ArrayDataset:
    images = torch.full((n, 3, 32, 32), value, dtype=torch.uint8)
    return ArrayDataset(images, torch.zeros(n, dtype=torch.long), "flat", ("a",), (0.0,) * 3, (1.0,) * 3)


def collect(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Undo the normalisation with MEAN/STD."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return (x * std + mean) * 255


def decode_crop_flip(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dy, dx, flipped) of each output of `pattern_dataset`, read at the centre, which is never padding."""
    source_row = pixels[:, 0, 16, 16].round().long() - 1
    source_col = pixels[:, 1, 16, 16].round().long() - 1
    flipped = pixels[:, 1, 16, 17] < pixels[:, 1, 16, 16]
    # Output column j shows window column j, or 31 - j when flipped.
    dx = torch.where(flipped, source_col - 15, source_col - 16)
    return source_row - 16, dx, flipped


@pytest.fixture(scope="module")
def crop_flip_epoch():
    ds = pattern_dataset()
    loader = DeviceLoader(ds, 512, train=True, augment=CROP_FLIP, seed=7)
    x, y = collect(loader)
    return ds, loader, x, y


def test_crop_offsets_and_flips_are_uniform(crop_flip_epoch):
    _, _, x, _ = crop_flip_epoch
    dy, dx, flipped = decode_crop_flip(to_pixels(x))
    assert flipped.float().mean().item() == pytest.approx(0.5, abs=0.04)
    for offsets in (dy, dx):
        counts = torch.bincount(offsets + 4, minlength=9)
        assert len(counts) == 9  # nothing outside -4..4
        assert (counts / len(offsets)).tolist() == pytest.approx([1 / 9] * 9, abs=0.025)


def test_every_output_is_an_exact_padded_crop(crop_flip_epoch):
    ds, loader, x, y = crop_flip_epoch
    order = loader.indices()
    assert torch.equal(y, ds.labels[order])
    dy, dx, flipped = decode_crop_flip(to_pixels(x))
    padded = F.pad(ds.images[order], (4, 4, 4, 4))
    for i in range(0, len(order), 37):  # a spread of samples, checked against plain slicing
        window = padded[i, :, 4 + dy[i] : 36 + dy[i], 4 + dx[i] : 36 + dx[i]]
        expected = window.flip(-1) if flipped[i] else window
        assert torch.equal(to_pixels(x[i : i + 1])[0].round().to(torch.uint8), expected)
    # Padding is black pixels, i.e. (0 - mean) / std after normalisation.
    is_padding = to_pixels(x)[:, 0].round() == 0
    assert is_padding.any()
    fill = (-torch.tensor(MEAN) / torch.tensor(STD)).view(1, 3, 1)
    assert torch.allclose(x.permute(0, 2, 3, 1)[is_padding], fill.view(1, 3), atol=1e-5)


def test_same_seed_and_epoch_give_identical_batches():
    ds = pattern_dataset(600)
    first = DeviceLoader(ds, 128, train=True, seed=1)
    for epoch in range(3):  # a resumed run starts its loader at the interrupted epoch
        first.set_epoch(epoch)
        xa, ya = collect(first)
    resumed = DeviceLoader(ds, 128, train=True, seed=1)
    resumed.set_epoch(2)
    xb, yb = collect(resumed)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(collect(resumed)[0], xb)  # iterating again repeats the epoch


def test_epoch_seed_and_rank_change_order_and_augmentation():
    ds = pattern_dataset(600)

    def epoch_of(epoch=0, seed=0, shuffle=True):
        loader = DeviceLoader(ds, 600, train=True, seed=seed, shuffle=shuffle)
        loader.set_epoch(epoch)
        return loader.indices(), collect(loader)[0]

    order0, _ = epoch_of()
    for other_order, _ in (epoch_of(epoch=1), epoch_of(seed=1)):
        assert not torch.equal(order0, other_order)
    # With a fixed order, the augmentation alone still changes with the epoch.
    _, fixed0 = epoch_of(shuffle=False)
    _, fixed1 = epoch_of(epoch=1, shuffle=False)
    assert not torch.equal(fixed0, fixed1)
    ranks = [DeviceLoader(ds, 600, train=True, shuffle=False, rank=r, world_size=2) for r in range(2)]
    assert not torch.equal(*[decode_crop_flip(to_pixels(collect(r)[0]))[0] for r in ranks])


@pytest.mark.parametrize(
    "n, world_size, train", [(1000, 3, True), (1000, 4, True), (7, 3, False), (2, 4, True)]
)
def test_ddp_shards_are_disjoint_and_cover(n, world_size, train):
    ds = pattern_dataset(n)
    loaders = [DeviceLoader(ds, 64, train=train, rank=r, world_size=world_size) for r in range(world_size)]
    assert len({len(lo) for lo in loaders}) == 1 and len({lo.num_samples for lo in loaders}) == 1
    shards = [lo.indices() for lo in loaders]
    assert all(len(s) == lo.num_samples for s, lo in zip(shards, loaders))
    real = [s[: len(s) - lo.num_padded] for s, lo in zip(shards, loaders)]
    everything = torch.cat(real)
    assert sorted(everything.tolist()) == list(range(n))  # disjoint and covering once padding is dropped
    assert sum(lo.num_padded for lo in loaders) == world_size * loaders[0].num_samples - n
    for lo, shard in zip(loaders, shards):
        assert torch.equal(collect(lo)[1], ds.labels[shard])


def test_eval_is_fixed_order_unaugmented_and_normalised():
    ds = pattern_dataset(1000)
    loader = DeviceLoader(ds, 300, train=False)
    assert loader.augment is None and len(loader) == 4
    x, y = collect(loader)
    loader.set_epoch(9)
    assert torch.equal(collect(loader)[0], x)
    assert torch.equal(y, ds.labels)
    expected = (ds.images.double() / 255 - torch.tensor(MEAN).view(1, 3, 1, 1).double()) / torch.tensor(
        STD
    ).view(1, 3, 1, 1).double()
    assert torch.allclose(x.double(), expected, atol=1e-5)


def test_normalised_mnist_has_zero_mean_unit_std(shared_data):
    ds = load_dataset("mnist", "train", shared_data, download=False)
    x, _ = collect(DeviceLoader(ds, 10000, train=False))
    assert x.double().mean().item() == pytest.approx(0.0, abs=1e-3)
    assert x.double().std().item() == pytest.approx(1.0, abs=1e-3)


def test_per_channel_normalisation_matches_channel_statistics():
    rng = np.random.default_rng(0)
    images = np.stack([rng.integers(lo, hi, (500, 32, 32)) for lo, hi in ((0, 80), (100, 256), (40, 60))], 1)
    pixels = images / 255
    mean = tuple(pixels.mean(axis=(0, 2, 3)).tolist())
    std = tuple(pixels.std(axis=(0, 2, 3)).tolist())
    ds = ArrayDataset(
        torch.from_numpy(images.astype(np.uint8)), torch.zeros(500, dtype=torch.long), "x", ("a",), mean, std
    )
    x, _ = collect(DeviceLoader(ds, 128, train=False))
    assert x.mean(dim=(0, 2, 3)).tolist() == pytest.approx([0, 0, 0], abs=1e-4)
    assert x.std(dim=(0, 2, 3)).tolist() == pytest.approx([1, 1, 1], abs=1e-3)


def test_channels_last_and_dtype():
    ds = pattern_dataset(300)
    plain = collect(DeviceLoader(ds, 100, train=True, seed=3))[0]
    loader = DeviceLoader(ds, 100, train=True, seed=3, channels_last=True)
    batch, _ = next(iter(loader))
    assert batch.is_contiguous(memory_format=torch.channels_last) and batch.shape == (100, 3, 32, 32)
    assert torch.equal(collect(loader)[0], plain)
    half, _ = next(iter(DeviceLoader(ds, 100, train=True, seed=3, dtype=torch.bfloat16)))
    assert half.dtype == torch.bfloat16 and torch.allclose(half.float(), plain[:100], atol=0.05)


def test_batches_and_drop_last():
    ds = pattern_dataset(1000)
    sizes = [len(y) for _, y in DeviceLoader(ds, 300, train=False)]
    assert sizes == [300, 300, 300, 100]
    dropped = DeviceLoader(ds, 300, train=True, drop_last=True)
    assert len(dropped) == 3 and [len(y) for _, y in dropped] == [300, 300, 300]


def zeroed_boxes(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(count, height, width) of the zeroed region of each image (constant images, mean 0, std 1)."""
    zero = (x == 0).all(dim=1)
    return zero.sum((1, 2)), zero.any(2).sum(1), zero.any(1).sum(1)


def test_cutout_zeroes_a_clipped_square():
    x, _ = collect(DeviceLoader(constant_dataset(), 500, train=True, augment=Augment(0, False, cutout=8)))
    count, height, width = zeroed_boxes(x)
    assert torch.equal(count, height * width)  # a rectangle
    assert bool(((height >= 4) & (height <= 8) & (width >= 4) & (width <= 8)).all())
    # Centres are uniform over the image; rows c-4..c+3 fit whole for c in 4..28 (25 of 32 values).
    assert (count == 64).float().mean().item() == pytest.approx((25 / 32) ** 2, abs=0.05)
    untouched = x.permute(0, 2, 3, 1)[(x != 0).all(1)]
    assert torch.allclose(untouched, torch.tensor(200 / 255))


def test_random_erasing_probability_and_area():
    x, _ = collect(DeviceLoader(constant_dataset(), 500, train=True, augment=Augment(0, False, erasing=0.5)))
    count, height, width = zeroed_boxes(x)
    erased = count > 0
    assert erased.float().mean().item() == pytest.approx(0.5, abs=0.05)
    assert torch.equal(count, height * width)
    area = count[erased].double() / (32 * 32)
    assert area.min().item() >= 0.01 and area.max().item() <= 0.36


def test_argument_checks():
    ds = pattern_dataset(10)
    with pytest.raises(ValueError, match="train=True"):
        DeviceLoader(ds, 4, train=False, augment=CROP_FLIP)
    with pytest.raises(ValueError, match="rank"):
        DeviceLoader(ds, 4, train=True, rank=2, world_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceLoader(ds, 0, train=True)
    with pytest.raises(ValueError, match="crop_padding"):
        Augment(crop_padding=-1)
    with pytest.raises(ValueError, match="erasing"):
        Augment(erasing=1.5)
    assert DeviceLoader(ds, 4, train=True).augment == Augment()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_match_cpu():
    ds = pattern_dataset(1000)
    augment = Augment(crop_padding=4, flip=True, cutout=8, erasing=0.5)
    cpu_x, cpu_y = collect(DeviceLoader(ds, 256, train=True, augment=augment, seed=2))
    cuda_x, cuda_y = collect(DeviceLoader(ds, 256, train=True, augment=augment, seed=2, device="cuda"))
    assert cuda_x.is_cuda and torch.equal(cuda_y.cpu(), cpu_y)
    assert torch.allclose(cuda_x.cpu(), cpu_x, atol=1e-6)


def _flips_by_image(loader: DeviceLoader, epoch: int) -> torch.Tensor:
    """Whether each image of `pattern_dataset` (n <= 200: its tag names it) came out mirrored."""
    loader.set_epoch(epoch)
    pixels = to_pixels(collect(loader)[0])
    flipped = torch.zeros(len(loader.dataset), dtype=torch.bool)
    flipped[pixels[:, 2, 0, 0].round().long() - 1] = pixels[:, 1, 16, 17] < pixels[:, 1, 16, 16]
    return flipped


def test_alternating_flips_show_each_image_both_ways_every_two_epochs():
    ds = pattern_dataset(200)
    alternate = DeviceLoader(ds, 50, train=True, augment=Augment(0, True, flip_mode="alternate"), seed=3)
    first, second, third, fourth = (_flips_by_image(alternate, e) for e in range(4))
    assert bool((first ^ second).all()) and torch.equal(first, third) and torch.equal(second, fourth)
    assert 0.35 < first.float().mean() < 0.65  # the first epoch's coins are fair
    randomly = DeviceLoader(ds, 50, train=True, augment=Augment(0, True), seed=3)
    assert not bool((_flips_by_image(randomly, 0) ^ _flips_by_image(randomly, 1)).all())


def test_reflect_padding_crops_the_mirrored_border():
    ds = pattern_dataset(512)
    augment = Augment(crop_padding=4, flip=False, padding_mode="reflect")
    pixels = to_pixels(collect(DeviceLoader(ds, 128, train=True, augment=augment, seed=5))[0]).round()
    dy, dx, _ = decode_crop_flip(pixels)
    padded = F.pad(ds.images.float(), (4, 4, 4, 4), mode="reflect")
    tags = pixels[:, 2, 0, 0].long() - 1  # 512 images, 200 tags: any image of a tag has its pixels
    for i in range(0, 512, 37):
        window = padded[tags[i], :, 4 + dy[i] : 4 + dy[i] + 32, 4 + dx[i] : 4 + dx[i] + 32]
        assert torch.equal(pixels[i], window)
    assert pixels[:, :2].min() >= 1 and (dy != 0).any()  # no black border anywhere
    with pytest.raises(ValueError, match="padding_mode must be zeros or reflect"):
        Augment(padding_mode="edge")
