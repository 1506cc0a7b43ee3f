"""Data-parallel training under torchrun: process group, DDP wrapping and metric reduction.

`torchrun --nproc_per_node N -m zoo train ...` sets RANK, WORLD_SIZE and LOCAL_RANK; a plain
run has none of them and every collective here becomes a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from torch import distributed as dist
from torch import nn

from .._device import resolve_device


@dataclass
class DistContext:
    """This process's place in the job; rank 0 alone writes files and prints."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False  # True when this context created the process group (and must destroy it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def start(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo otherwise); torchrun provides the rendezvous."""
        self.device = device
        if not self.enabled or dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        self.owns_group = True

    def stop(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def _collective_device(self) -> torch.device:
        # NCCL only moves CUDA tensors; gloo takes CPU ones.
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """`tensor` reduced over all ranks (a new tensor on the tensor's own device)."""
        if not self.enabled:
            return tensor
        work = tensor.to(self._collective_device(), copy=True)
        dist.all_reduce(work, op={"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN}[op])
        return work.to(tensor.device)

    def all_gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's `tensor` (same shape on all ranks), in rank order, on the CPU."""
        if not self.enabled:
            return [tensor.cpu()]
        work = tensor.to(self._collective_device())
        out = [torch.empty_like(work) for _ in range(self.world_size)]
        dist.all_gather(out, work)
        return [t.cpu() for t in out]

    def broadcast_buffers(self, model: nn.Module) -> None:
        """Give every rank rank 0's buffers (BatchNorm statistics), which are the ones rank 0 saves."""
        if self.enabled:
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)

    def wrap(self, model: nn.Module) -> nn.Module:
        """`model` in DistributedDataParallel when running on several processes."""
        if not self.enabled:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)


def context_from_env() -> DistContext:
    """The job layout torchrun advertises (a single process when the variables are absent)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    return DistContext(
        rank=int(os.environ.get("RANK", "0")),
        world_size=world_size,
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def pick_device(name: str | None, ctx: DistContext) -> torch.device:
    """The requested device ("auto"/None: the GPU if any); under DDP each rank takes its local GPU."""
    return resolve_device(name, ctx.local_rank if ctx.enabled else None)
