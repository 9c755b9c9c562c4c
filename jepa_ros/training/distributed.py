"""Data-parallel training over processes: `torchrun --nproc-per-node N jepa-ros train ...`.

Every rank draws the same global batch indices (one seed), keeps its own equal part of them and
reads only those frames from the memory-mapped shards. Gradients are averaged across ranks by
torch's DistributedDataParallel (gloo on the CPU, nccl on CUDA). The VICReg variance and
covariance terms are batch statistics, so the latents of every rank's part are gathered (with
their gradients) and the terms are computed on the whole global batch; every other term is a
mean over samples. A run at global batch B on N ranks therefore computes the loss of one process
at batch B, up to floating-point summation order. Only rank 0 writes checkpoints, logs and the
progress bar; every rank reads them back to resume. Without torchrun's environment (`RANK`,
`WORLD_SIZE`) it is one process and nothing here talks to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class Cluster:
    """This process's place in a data-parallel run (rank 0 of 1 when alone)."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device('cpu'))

    @property
    def main(self) -> bool:
        """The rank that writes (checkpoints, logs, progress)."""
        return self.rank == 0

    def check_divides(self, name: str, size: int) -> None:
        if size % self.world_size:
            raise ValueError(f'{name} {size} is not divisible by the {self.world_size} ranks')

    def part(self, items: np.ndarray) -> np.ndarray:
        """This rank's equal, contiguous part of a global batch that every rank drew: (n,) ->
        (n / world_size,)."""
        return np.split(items, self.world_size)[self.rank] if self.world_size > 1 else items

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's (b, ...) -> (world_size * b, ...) on every rank, in rank order; the
        gradient flows back to each rank's own part."""
        if self.world_size == 1:
            return tensor
        from torch.distributed.nn.functional import all_gather

        return torch.cat(all_gather(tensor), dim=0)

    def gather_arrays(self, array: np.ndarray) -> np.ndarray:
        """Every rank's (n_r, ...) numpy array, concatenated in rank order on every rank."""
        if self.world_size == 1:
            return array
        import torch.distributed as dist

        parts: list[Any] = [None] * self.world_size
        dist.all_gather_object(parts, array)
        return np.concatenate(parts)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each value (the global batch's, for per-sample means)."""
        if self.world_size == 1:
            return values
        import torch.distributed as dist

        total = torch.tensor(list(values.values()), dtype=torch.float64)
        dist.all_reduce(total)
        return dict(zip(values, (total / self.world_size).tolist()))

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """`module` in DistributedDataParallel (gradients averaged over ranks), or itself."""
        if self.world_size == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == 'cuda' else None
        return DistributedDataParallel(module, device_ids=ids)


def start(device: torch.device) -> Cluster:
    """Join the run torchrun started (its RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), or
    return a one-process Cluster without it. Each rank gets its own GPU on CUDA."""
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size == 1:
        return Cluster(device=device)
    import torch.distributed as dist

    rank = int(os.environ['RANK'])
    if device.type == 'cuda':
        device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', rank)))
        torch.cuda.set_device(device)
    elif device.type != 'cpu':
        raise ValueError(f'torchrun training runs on cpu (gloo) or cuda (nccl), not {device}')
    dist.init_process_group('nccl' if device.type == 'cuda' else 'gloo')
    return Cluster(rank, world_size, device)


def stop(cluster: Cluster) -> None:
    if cluster.world_size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
