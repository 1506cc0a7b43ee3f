"""Minimal stand-ins for the source code bases `zoo convert` reads, written for the tests.

Each class has the module names, tensor shapes and forward computation of its counterpart in
kuangliu/pytorch-cifar, BIGBALLON/CIFAR-ZOO or the seed's Project2 code (the names are what a
checkpoint records); everything else (init, options, variants) is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(c_in: int, c_out: int, k: int = 3, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A bias-free conv and the BatchNorm after it."""
    conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(c_out)]


# --- CIFAR-ZOO: lenet.py, alexnet.py ------------------------------------------------------------
class CifarZooLeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_1, self.conv_2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc_1, self.fc_2, self.fc_3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv_1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv_2(x)), 2).flatten(1)
        return self.fc_3(F.relu(self.fc_2(F.relu(self.fc_1(x)))))


class CifarZooAlexNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        spec = [(3, 64, 11, 4, 5, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False)]
        spec += [(384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True)]
        layers: list[nn.Module] = []
        for c_in, c_out, k, stride, pad, pool in spec:
            layers += [nn.Conv2d(c_in, c_out, k, stride, pad), nn.ReLU()] + (
                [nn.MaxPool2d(2)] if pool else []
            )
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc(self.features(x).flatten(1))


# --- pytorch-cifar: resnet.py, resnext.py (the seed's copies) ----------------------------------
class KuangliuBlock(nn.Module):
    """BasicBlock (`width` None) or Bottleneck / ResNeXt Block: convK, bnK, Sequential shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, width: int | None = None, groups: int = 1) -> None:
        super().__init__()
        if width is None:
            self.conv1, self.bn1 = conv_bn(c_in, c_out, 3, stride)
            self.conv2, self.bn2 = conv_bn(c_out, c_out)
            self.n = 2
        else:
            self.conv1, self.bn1 = conv_bn(c_in, width, 1)
            self.conv2, self.bn2 = conv_bn(width, width, 3, stride, groups)
            self.conv3, self.bn3 = conv_bn(width, c_out, 1)
            self.n = 3
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = x
        for i in range(1, self.n + 1):
            out = getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out))
            out = F.relu(out) if i < self.n else out
        return F.relu(out + self.shortcut(x))


class KuangliuResNet(nn.Module):
    """ResNet (stages of `blocks`, widths 64..512, expansion 1 or 4) or ResNeXt-29 (`cardinality`)."""

    def __init__(self, blocks, expansion: int = 1, cardinality: int = 0, bottleneck_width: int = 0) -> None:
        super().__init__()
        resnext = cardinality > 0
        self.conv1, self.bn1 = conv_bn(3, 64, 1 if resnext else 3)
        c_in, self.pool = 64, 8 if resnext else 4
        for i, n in enumerate(blocks):
            stride = 1 if i == 0 else 2
            if resnext:
                width = cardinality * bottleneck_width * 2**i
                c_out, groups = 2 * width, cardinality
            else:
                width = 64 * 2**i if expansion > 1 else None
                c_out, groups = 64 * 2**i * expansion, 1
            layer = []
            for j in range(n):
                layer.append(KuangliuBlock(c_in, c_out, stride if j == 0 else 1, width, groups))
                c_in = c_out
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.n_layers = len(blocks)
        self.linear = nn.Linear(c_in, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, self.n_layers + 1):
            out = getattr(self, f"layer{i}")(out)
        return self.linear(F.avg_pool2d(out, self.pool).flatten(1))


# --- CIFAR-ZOO: resnext.py, genet.py (the seed's genet.py) -------------------------------------
class CifarZooBottleneck(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, cardinality: int, ge_size: int = 0) -> None:
        super().__init__()
        d = cardinality * 64 * c_out // 256
        if ge_size:
            self.ge_module = nn.Module()
            self.ge_module.downop = nn.Module()
            self.ge_module.downop.dwconv = nn.Conv2d(c_out, c_out, ge_size, groups=c_out, bias=False)
            self.ge_module.downop.bn = nn.BatchNorm2d(c_out)
            mid = c_out // 16
            self.ge_module.mlp = nn.Sequential(
                nn.Conv2d(c_out, mid, 1, bias=False), nn.ReLU(), nn.Conv2d(mid, c_out, 1, bias=False)
            )
        self.conv_reduce, self.bn_reduce = conv_bn(c_in, d, 1)
        self.conv_conv = nn.Conv2d(d, d, 3, stride, 1, groups=cardinality, bias=False)
        self.bn = nn.BatchNorm2d(d)
        self.conv_expand, self.bn_expand = conv_bn(d, c_out, 1)
        self.shortcut = nn.Sequential()
        if c_in != c_out:
            self.shortcut.add_module("shortcut_conv", nn.Conv2d(c_in, c_out, 1, stride, bias=False))
            self.shortcut.add_module("shortcut_bn", nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn_reduce(self.conv_reduce(x)))
        out = F.relu(self.bn(self.conv_conv(out)))
        out = self.bn_expand(self.conv_expand(out))
        if hasattr(self, "ge_module"):
            gate = self.ge_module.mlp(self.ge_module.downop.bn(self.ge_module.downop.dwconv(out)))
            out = out * torch.sigmoid(gate)
        return F.relu(out + self.shortcut(x))


class CifarZooResNeXt(nn.Module):
    def __init__(self, cardinality: int = 8, ge: bool = False) -> None:
        super().__init__()
        self.conv_1_3x3, self.bn_1 = conv_bn(3, 64)
        c_in = 64
        for i, (c_out, size) in enumerate(((256, 32), (512, 16), (1024, 8))):
            stage = nn.Sequential()
            for j in range(3):
                stride = 2 if i and not j else 1
                block = CifarZooBottleneck(c_in, c_out, stride, cardinality, size if ge else 0)
                stage.add_module(f"stage_{i + 1}_bottleneck_{j}", block)
                c_in = c_out
            setattr(self, f"stage_{i + 1}", stage)
        self.fc = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.relu(self.bn_1(self.conv_1_3x3(x)))
        x = self.stage_3(self.stage_2(self.stage_1(x)))
        return self.fc(F.avg_pool2d(x, 8).flatten(1))


# --- DenseNet: CIFAR-ZOO densenet.py (DenseNet-BC-100) and pytorch-cifar densenet.py (121) -----
class DenseLayer(nn.Module):
    def __init__(self, c_in: int, k: int, names: tuple[str, str, str, str]) -> None:
        super().__init__()
        self.names = names
        bn1, conv1, bn2, conv2 = names
        setattr(self, bn1, nn.BatchNorm2d(c_in))
        setattr(self, conv1, nn.Conv2d(c_in, 4 * k, 1, bias=False))
        setattr(self, bn2, nn.BatchNorm2d(4 * k))
        setattr(self, conv2, nn.Conv2d(4 * k, k, 3, padding=1, bias=False))

    def forward(self, x):
        bn1, conv1, bn2, conv2 = (getattr(self, n) for n in self.names)
        return torch.cat([conv2(F.relu(bn2(conv1(F.relu(bn1(x)))))), x], 1)


class Transition(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn, self.conv = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class SourceDenseNet(nn.Module):
    """`stem`, then blocks named `dense[i]` and transitions `trans[i]`, then bn and `head`."""

    def __init__(self, blocks, k: int, stem: str, dense, trans, layer_names, head: str) -> None:
        super().__init__()
        c = 2 * k
        setattr(self, stem, nn.Conv2d(3, c, 3, padding=1, bias=False))
        self.order = [stem]
        for i, n in enumerate(blocks):
            if i:
                setattr(self, trans[i - 1], Transition(c, c // 2))
                self.order.append(trans[i - 1])
                c //= 2
            setattr(self, dense[i], nn.Sequential(*(DenseLayer(c + j * k, k, layer_names) for j in range(n))))
            self.order.append(dense[i])
            c += n * k
        self.bn = nn.BatchNorm2d(c)
        setattr(self, head, nn.Linear(c, 10))
        self.head = head

    def forward(self, x):
        for name in self.order:
            x = getattr(self, name)(x)
        return getattr(self, self.head)(F.relu(self.bn(x)).mean((2, 3)))


def cifar_zoo_densenet100_bc() -> SourceDenseNet:
    names = ("bn_1", "conv_1", "bn_2", "conv_2")
    return SourceDenseNet(
        (16, 16, 16), 12, "conv_1", ("dense1", "dense2", "dense_3"), ("trans_1", "trans_2"), names, "fc"
    )


def pytorch_cifar_densenet121() -> SourceDenseNet:
    dense, trans = [f"dense{i}" for i in range(1, 5)], [f"trans{i}" for i in range(1, 4)]
    return SourceDenseNet(
        (6, 12, 24, 16), 32, "conv1", dense, trans, ("bn1", "conv1", "bn2", "conv2"), "linear"
    )


# --- the seed's wideresnet.py (weiaicunzai/pytorch-cifar100 layout) ----------------------------
class WideBasic(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, 3, stride, 1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Conv2d(c_out, c_out, 3, 1, 1),
        )
        self.shortcut = nn.Sequential()
        if c_in != c_out or stride != 1:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride))

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class SeedWideResNet(nn.Module):
    def __init__(self, depth: int, k: int) -> None:
        super().__init__()
        self.init_conv = nn.Conv2d(3, 16, 3, 1, 1)
        c_in, n = 16, (depth - 4) // 6
        for i, width in enumerate((16 * k, 32 * k, 64 * k)):
            blocks = [WideBasic(c_in if j == 0 else width, width, 2 if i and not j else 1) for j in range(n)]
            setattr(self, f"conv{i + 2}", nn.Sequential(*blocks))
            c_in = width
        self.bn, self.linear = nn.BatchNorm2d(c_in), nn.Linear(c_in, 10)

    def forward(self, x):
        x = self.conv4(self.conv3(self.conv2(self.init_conv(x))))
        return self.linear(F.relu(self.bn(x)).mean((2, 3)))


# --- the seed's resnet9.py and fastresnet9.py ---------------------------------------------------
class SeedGhostBatchNorm(nn.BatchNorm2d):
    """The seed's GhostBatchNorm: running stats per split, split i = samples i, i + S, ... ."""

    def __init__(self, c: int, num_splits: int = 16) -> None:
        super().__init__(c)
        self.num_splits = num_splits
        self.register_buffer("running_mean", torch.zeros(c * num_splits))
        self.register_buffer("running_var", torch.ones(c * num_splits))

    def train(self, mode: bool = True):
        if self.training and not mode:  # leaving training: every split takes the average
            for name in ("running_mean", "running_var"):
                stats = getattr(self, name).view(self.num_splits, self.num_features).mean(0)
                setattr(self, name, stats.repeat(self.num_splits))
        return super().train(mode)

    def forward(self, x):
        n, c, h, w = x.shape
        if self.training:
            s = self.num_splits
            w_, b_ = self.weight.repeat(s), self.bias.repeat(s)
            out = F.batch_norm(x.view(-1, c * s, h, w), self.running_mean, self.running_var, w_, b_, True)
            return out.view(n, c, h, w)
        mean, var = self.running_mean[:c], self.running_var[:c]
        return F.batch_norm(x, mean, var, self.weight, self.bias, False)


def seed_unit(c_in: int, c_out: int, pool: str = "", ghost: bool = False, k: int = 3) -> nn.Sequential:
    """conv_bn_act (pool ""), conv_bn_act_pool ("after") or conv_pool_bn_act ("before")."""
    norm = SeedGhostBatchNorm(c_out) if ghost else nn.BatchNorm2d(c_out)
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
    layers = [conv] + ([nn.MaxPool2d(2)] if pool == "before" else []) + [norm, nn.GELU()]
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool == "after" else []))


class SeedResNet9(nn.Module):
    """resnet9 (conv1 .. conv8, linear10) or, `fast`, FastResNet9 (conv1 whitening .. conv9, linear11)."""

    def __init__(self, fast: bool = False) -> None:
        super().__init__()
        pool, g = ("before", True) if fast else ("after", False)
        stem = [nn.Conv2d(3, 27, 3, padding=1, bias=False), seed_unit(27, 64, ghost=g, k=1)] if fast else []
        self.n_stem = len(stem) or 1
        units = stem or [seed_unit(3, 64)]
        units += [seed_unit(64, 128, pool, g), seed_unit(128, 128, ghost=g), seed_unit(128, 128, ghost=g)]
        units += [seed_unit(128, 256, pool, g), seed_unit(256, 512, pool, g)]
        units += [seed_unit(512, 512, ghost=g), seed_unit(512, 512, ghost=g)]
        for i, unit in enumerate(units, 1):
            setattr(self, f"conv{i}", unit)
        self.linear_name = f"linear{len(units) + 2}"
        setattr(self, self.linear_name, nn.Linear(512, 10, bias=False))
        self.scale = 0.125 if fast else 1.0

    def forward(self, x):
        convs = [m for name, m in self.named_children() if name.startswith("conv")]
        for stem in convs[: self.n_stem]:
            x = stem(x)
        down1, res1a, res1b, down2, down3, res3a, res3b = convs[self.n_stem :]
        x = down1(x)
        x = x + res1b(res1a(x))
        x = down3(down2(x))
        x = x + res3b(res3a(x))
        return self.scale * getattr(self, self.linear_name)(F.max_pool2d(x, 4).flatten(1))


# --- VGG_BatchNorm/models/vgg.py: the course's VGG_A, the seed's VGG_A_BatchNorm ----------------
class SeedVGG(nn.Module):
    def __init__(self, batch_norm: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for item in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers += [nn.Conv2d(c_in, item, 3, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(item)] if batch_norm else []
            layers += [nn.ReLU()]
            c_in = item
        self.features = nn.Sequential(*layers)
        hidden: list[nn.Module] = []
        for _ in range(2):
            hidden += [nn.Linear(512, 512, bias=not batch_norm)]
            hidden += [nn.BatchNorm1d(512)] if batch_norm else []
            hidden += [nn.ReLU()]
        self.classifier = nn.Sequential(*hidden, nn.Linear(512, 10))

    def forward(self, x):
        return self.classifier(self.features(x).view(-1, 512))
