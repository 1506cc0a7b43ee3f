"""Architectures, one family per module. Plain `nn.Module`s; registration lives in zoo/plugins/."""
