"""Net2Net's tensor operations, which the families' grow rules (beside each architecture) compose.

Paper: Chen, Goodfellow, Shlens, "Net2Net: Accelerating Learning via Knowledge Transfer", ICLR
2016, arXiv:1511.05641. A *channel map* is a 1-D index tensor: position ``j`` of the wider layer
copies channel ``map[j]`` of the narrower one. A layer whose inputs are widened by a map reads
each copy with its weight divided by the number of copies, so the sum it computes is unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._growths import GrowError


@torch.no_grad()
def copy_state(source: nn.Module, target: nn.Module) -> None:
    """Copy every tensor of `source` into the tensor of the same name and shape in `target`."""
    own = target.state_dict()
    for name, tensor in source.state_dict().items():
        _put(own, name, tensor, target)


@torch.no_grad()
def fill_(
    target: nn.Module,
    source: nn.Module,
    out_map: torch.Tensor | None = None,
    in_map: torch.Tensor | None = None,
) -> None:
    """Copy a conv, linear or BatchNorm (or a Sequential of them) from `source` into `target`.

    Output channels (dim 0 of every tensor but a scalar) are taken by `out_map`, input channels
    (dim 1 of weights) by `in_map` and divided by their copy counts; ``None`` keeps a dimension.
    """
    own = target.state_dict()
    for name, tensor in source.state_dict().items():
        if out_map is not None and tensor.dim() >= 1:
            tensor = tensor[out_map]
        if in_map is not None and tensor.dim() >= 2:
            counts = torch.bincount(in_map)[in_map].to(tensor)
            tensor = tensor[:, in_map] / counts.view(1, -1, *[1] * (tensor.dim() - 2))
        _put(own, name, tensor, target)


@torch.no_grad()
def put_(target: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Copy `tensor` into `target`'s state-dict entry `name`, which must have its shape."""
    _put(target.state_dict(), name, tensor, target)


def _put(own: dict[str, torch.Tensor], name: str, tensor: torch.Tensor, target: nn.Module) -> None:
    # copy_ would broadcast a misfit silently: a wrong layout must fail here, naming the tensor.
    if name not in own or own[name].shape != tensor.shape:
        found = list(own[name].shape) if name in own else "nothing"
        raise GrowError(
            f"cannot place tensor {name!r} {list(tensor.shape)} in the {type(target).__name__} grown "
            f"(it has {found} there): the source is not the architecture its name says"
        )
    own[name].copy_(tensor)


def paired_blocks(source: nn.Module, target: nn.Module) -> list[tuple[nn.Module, nn.Module]]:
    """The blocks of two models' ``stages``, pairwise, for a growth that keeps the depth."""
    old = [block for stage in source.stages for block in stage]
    new = [block for stage in target.stages for block in stage]
    if len(old) != len(new):
        raise GrowError(f"cannot pair {len(old)} source blocks with {len(new)}: this growth keeps the depth")
    return list(zip(old, new))


def wider_map(old: int, new: int, generator: torch.Generator) -> torch.Tensor:
    """``old`` channels kept in place, then ``new - old`` copies of randomly chosen ones (Net2WiderNet).

    Picks are drawn without replacement until every channel has been picked once more, which
    keeps the copy counts as even as possible.
    """
    if new < old:
        raise GrowError(f"cannot widen {old} channels to {new}: growth never removes channels")
    extra = new - old
    rounds = -(-extra // old)  # ceil
    picks = torch.cat([torch.randperm(old, generator=generator) for _ in range(rounds)])[:extra]
    return torch.cat([torch.arange(old), picks])


def replicated_groups(groups: int, new_groups: int, group_width: int) -> torch.Tensor:
    """The channel map from `groups` groups of `group_width` channels to `new_groups` groups, each
    old group copied ``new_groups // groups`` times in a row (new group ``g`` copies ``g // r``)."""
    if new_groups % groups:
        raise GrowError(f"cannot grow cardinality {groups} to {new_groups}: it must be a multiple")
    repeats = new_groups // groups
    group = torch.arange(new_groups) // repeats
    return (group[:, None] * group_width + torch.arange(group_width)).flatten()


def copies(channel_map: torch.Tensor) -> torch.Tensor:
    """Mask of the positions of `channel_map` that repeat a channel already mapped earlier."""
    positions = torch.arange(len(channel_map))
    first = torch.full((int(channel_map.max()) + 1,), len(channel_map))
    first = first.scatter_reduce(0, channel_map, positions, "amin")
    return positions != first[channel_map]


@torch.no_grad()
def perturb_(weight: torch.Tensor, rows: torch.Tensor, noise: float, generator: torch.Generator) -> None:
    """Add Gaussian noise of ``noise * weight.std()`` to the `rows` (a mask over dim 0) of `weight`.

    Copies that start identical get identical gradients and stay copies under SGD; the noise
    breaks that symmetry at the cost of a small change of the function. It is drawn even for
    ``noise=0``, so a seed picks the same channels to copy whatever the noise.
    """
    if not rows.any():
        return
    draw = torch.randn((int(rows.sum()), *weight.shape[1:]), generator=generator).to(weight)
    if noise:
        weight[rows] += noise * weight.std() * draw


def pad_kernel(weight: torch.Tensor, size: int) -> torch.Tensor:
    """A conv weight with its k x k kernel in the centre of a `size` x `size` one of zeros.

    With ``size // 2`` padding the larger convolution computes exactly what the smaller one did
    with ``k // 2`` padding (odd sizes).
    """
    pad, odd = divmod(size - weight.shape[-1], 2)
    if pad < 0 or odd:
        raise GrowError(
            f"cannot centre a {weight.shape[-1]}x{weight.shape[-1]} kernel in a {size}x{size} one"
        )
    return F.pad(weight, [pad] * 4)


@torch.no_grad()
def zero_(*modules: nn.Module) -> None:
    """Zero every parameter of `modules` (the layer whose output a new part adds or gates)."""
    for module in modules:
        for param in module.parameters():
            param.zero_()
