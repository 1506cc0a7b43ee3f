"""GhostBatchNorm: BatchNorm over virtual batches in training, running statistics in eval."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.layers import GhostBatchNorm

CHANNELS = 4


def _ghost(virtual_batch_size: int = 32):
    torch.manual_seed(0)
    ghost = GhostBatchNorm(CHANNELS, virtual_batch_size=virtual_batch_size)
    with torch.no_grad():  # non-trivial affine parameters, so they are checked too
        ghost.weight.uniform_(0.5, 1.5)
        ghost.bias.uniform_(-0.5, 0.5)
    return ghost


def _per_chunk_batchnorm(ghost: GhostBatchNorm, x: torch.Tensor):
    """An independent oracle: a fresh nn.BatchNorm2d per chunk, in training mode."""
    outs, bns = [], []
    for chunk in x.split(ghost.virtual_batch_size):
        bn = nn.BatchNorm2d(CHANNELS, momentum=ghost.momentum)
        bn.load_state_dict({"weight": ghost.weight, "bias": ghost.bias}, strict=False)
        outs.append(bn.train()(chunk))
        bns.append((bn, chunk.shape[0]))
    return torch.cat(outs), bns


@pytest.mark.parametrize("batch", [64, 70, 33, 5])
def test_training_output_and_running_stats_match_per_chunk_batchnorm(batch):
    ghost = _ghost().train()
    x = torch.randn(batch, CHANNELS, 3, 3) * 3 + 1
    out = ghost(x)
    expected, bns = _per_chunk_batchnorm(ghost, x)
    torch.testing.assert_close(out, expected)
    # One update per call with the chunk statistics averaged by chunk size: the size-weighted
    # mean of what each chunk's own BatchNorm holds after one step from the same start.
    weights = torch.tensor([n for _, n in bns], dtype=torch.float32) / batch
    mean = sum(w * bn.running_mean for w, (bn, _) in zip(weights, bns))
    var = sum(w * bn.running_var for w, (bn, _) in zip(weights, bns))
    torch.testing.assert_close(ghost.running_mean, mean)
    torch.testing.assert_close(ghost.running_var, var)
    assert int(ghost.num_batches_tracked) == 1


def test_chunks_are_normalised_separately():
    ghost = _ghost(virtual_batch_size=4).train()
    with torch.no_grad():
        ghost.weight.fill_(1.0)
        ghost.bias.zero_()
    # Two chunks on very different scales: whole-batch BN would leave each chunk off-centre.
    x = torch.cat([torch.randn(4, CHANNELS, 2, 2), 100 + 10 * torch.randn(4, CHANNELS, 2, 2)])
    out = ghost(x)
    for chunk in out.split(4):
        torch.testing.assert_close(chunk.mean((0, 2, 3)), torch.zeros(CHANNELS), atol=1e-5, rtol=0)
        variance = chunk.var((0, 2, 3), unbiased=False)
        torch.testing.assert_close(variance, torch.ones(CHANNELS), atol=1e-3, rtol=0)


def test_eval_uses_running_stats():
    ghost = _ghost().train()
    for _ in range(3):
        ghost(torch.randn(40, CHANNELS, 4, 4) * 2 + 3)
    ghost.eval()
    reference = nn.BatchNorm2d(CHANNELS)
    reference.load_state_dict(ghost.state_dict())  # same keys as BatchNorm2d
    reference.eval()
    x = torch.randn(7, CHANNELS, 4, 4)
    before = ghost.running_mean.clone()
    torch.testing.assert_close(ghost(x), reference(x))
    torch.testing.assert_close(ghost.running_mean, before)  # eval leaves the statistics alone
    # And an eval output does not depend on the rest of the batch, unlike training.
    torch.testing.assert_close(ghost(x[:1]), ghost(x)[:1])


def test_gradients_flow_to_input_and_affine():
    ghost = _ghost().train()
    x = torch.randn(45, CHANNELS, 2, 2, requires_grad=True)
    (ghost(x) * torch.randn(45, CHANNELS, 2, 2)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert ghost.weight.grad is not None and ghost.bias.grad is not None


def test_rejects_bad_virtual_batch_size():
    with pytest.raises(ValueError, match="virtual_batch_size"):
        GhostBatchNorm(CHANNELS, virtual_batch_size=0)


def _seed_style(ghost: GhostBatchNorm, x: torch.Tensor):
    """The seed's FastResNet9 GhostBatchNorm: one BatchNorm over x.view(-1, C * S, H, W), with
    per-split running buffers that it averages when it leaves training."""
    n, c, h, w = x.shape
    s = ghost.num_splits
    mean, var = ghost.running_mean.repeat(s), ghost.running_var.repeat(s)
    out = torch.nn.functional.batch_norm(
        x.view(-1, c * s, h, w), mean, var, ghost.weight.repeat(s), ghost.bias.repeat(s), True, ghost.momentum
    )
    return out.view(n, c, h, w), mean.view(s, c).mean(0), var.view(s, c).mean(0)


def test_num_splits_matches_the_seeds_interleaved_ghost_batches():
    ghost = GhostBatchNorm(CHANNELS, num_splits=4).train()
    with torch.no_grad():
        ghost.weight.uniform_(0.5, 1.5)
        ghost.bias.uniform_(-0.5, 0.5)
    x = torch.randn(12, CHANNELS, 3, 3) * 2 + 1
    expected, mean, var = _seed_style(ghost, x)
    torch.testing.assert_close(ghost(x), expected)
    torch.testing.assert_close(ghost.running_mean, mean)
    torch.testing.assert_close(ghost.running_var, var)
    assert "num_splits=4" in repr(ghost) and ghost.virtual_batch_size is None


def test_num_splits_takes_any_batch_size():
    ghost = GhostBatchNorm(CHANNELS, num_splits=4).train()
    x = torch.randn(10, CHANNELS, 2, 2)
    out = ghost(x)
    for q in range(4):  # split q holds samples q, q + 4, ...: 3, 3, 2 and 2 of them
        reference = nn.BatchNorm2d(CHANNELS).train()(x[q::4])
        torch.testing.assert_close(out[q::4], reference)


def test_rejects_bad_num_splits():
    with pytest.raises(ValueError, match="num_splits"):
        GhostBatchNorm(CHANNELS, num_splits=0)


def test_noisy_batchnorm_is_batchnorm_then_a_fresh_per_channel_affine_map_in_training():
    from zoo.layers import NoisyBatchNorm2d

    torch.manual_seed(0)
    noisy, plain = NoisyBatchNorm2d(CHANNELS, max_shift=1.0, max_scale=2.0), nn.BatchNorm2d(CHANNELS)
    assert noisy.state_dict().keys() == plain.state_dict().keys()
    x = torch.randn(16, CHANNELS, 5, 5) * 3 + 1
    reference = plain.train()(x)
    outs = [noisy.train()(x) for _ in range(2)]
    for out in outs:  # per channel, out = scale * bn(x) + shift with scale in [1, 2], shift in [-1, 1]
        scale = out.std(dim=(0, 2, 3)) / reference.std(dim=(0, 2, 3))
        shift = out.mean(dim=(0, 2, 3)) - scale * reference.mean(dim=(0, 2, 3))
        assert ((scale >= 1 - 1e-4) & (scale <= 2 + 1e-4)).all() and (shift.abs() <= 1 + 1e-4).all()
        fitted = scale.view(1, -1, 1, 1) * reference + shift.view(1, -1, 1, 1)
        assert torch.allclose(out, fitted, atol=1e-4)
    assert not torch.allclose(outs[0], outs[1])  # redrawn at every call
    plain(x)  # two training calls each: the noise does not reach the running statistics
    assert torch.allclose(noisy.running_mean, plain.running_mean)
    assert torch.allclose(noisy.running_var, plain.running_var)
    assert torch.allclose(noisy.eval()(x), plain.eval()(x))  # eval: plain BN on the running statistics


@pytest.mark.parametrize("shift, scale", [(-0.1, 2.0), (1.0, 0.5)])
def test_noisy_batchnorm_rejects_bad_noise(shift, scale):
    from zoo.layers import NoisyBatchNorm2d

    with pytest.raises(ValueError, match="max_shift >= 0 and max_scale >= 1"):
        NoisyBatchNorm2d(CHANNELS, max_shift=shift, max_scale=scale)
