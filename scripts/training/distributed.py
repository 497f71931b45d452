"""Several training processes (torchrun, DistributedDataParallel) inside Simple Transformers' own loop.

`make train NPROC=N` starts N processes through torchrun (scripts/launch.py). Every rank reads, cleans,
splits and balances the data itself with the same seed, so all hold the same split and recipe without
sending data around. Each global batch of `train_batch_size` rows is cut into one disjoint shard per
rank (trainer.LengthGroupedBatches), gradients are averaged by DDP, and the loss of a short shard is
scaled so the average equals the loss of the whole global batch. Rank 0 alone prints, evaluates on
validation, writes checkpoints, the run folder and `outputs/latest`; its validation scores are
broadcast, so every rank takes the same early-stopping decision. The other ranks work in a temporary
folder that is removed when they finish. Backend: nccl on CUDA (one GPU per rank, its LOCAL_RANK),
gloo on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1
    local_size: int = 1
    backend: str | None = None
    launched: bool = False  # started by torchrun (NPROC=1 too: the same DDP path as on several GPUs)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.launched


def current() -> World:
    """This process's place, from the variables torchrun sets (a plain run is rank 0 of 1)."""
    env = os.environ
    size = int(env.get("WORLD_SIZE", "1"))
    launched = "WORLD_SIZE" in env and "RANK" in env
    backend = None
    if launched:
        import torch.distributed as dist

        backend = dist.get_backend() if dist.is_available() and dist.is_initialized() else None
    return World(
        rank=int(env.get("RANK", "0")),
        local_rank=int(env.get("LOCAL_RANK", "0")),
        size=size,
        local_size=int(env.get("LOCAL_WORLD_SIZE", "1")),
        backend=backend,
        launched=launched,
    )


def is_main() -> bool:
    """Rank 0 (or not distributed): the process that prints and writes."""
    return os.environ.get("RANK", "0") == "0"


def start() -> World:
    """Join the process group when started by torchrun; a plain run does nothing. Non-main ranks print
    nothing on stdout (their errors still reach stderr)."""
    world = current()
    if not world.distributed:
        return world
    import sys
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(world.local_rank)
        # a rank waits at most this long for another one (rank 0 evaluating, writing checkpoints)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=60))
    if not world.main:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    return current()


def stop() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast(value: Any) -> Any:
    """Rank 0's value on every rank (picklable Python objects: validation scores, decisions)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def wrap(model: Any, world: World) -> Any:
    """The module in DistributedDataParallel for the training forward passes (same parameters)."""
    import inspect

    import torch
    from torch.nn.parallel import DistributedDataParallel

    devices = [world.local_rank] if torch.cuda.is_available() else None
    # buffers (position ids) are equal on every rank: no broadcast before each forward (the option was
    # renamed in torch 2.13; Colab's and Kaggle's torch may be older)
    renamed = "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    no_sync = {"forward_sync_buffers": False} if renamed else {"broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=devices, **no_sync)


def shard(batch: list[int], world: World) -> list[int]:
    """This rank's contiguous part of a global batch (parts differ in size by at most one row)."""
    size, extra = divmod(len(batch), world.size)
    start = world.rank * size + min(world.rank, extra)
    return batch[start : start + size + (1 if world.rank < extra else 0)]
