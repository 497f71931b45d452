"""Where quickfit's training time goes: torch.profiler over one epoch of the benchmark's C2 setting.

python -m bench.profile_train [--rows 400] [--grouping True]
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--grouping", default="True")
    args = parser.parse_args()
    import torch
    from torch.profiler import ProfilerActivity, profile

    from bench.bench import bench_data
    from scripts.common import runtime
    from scripts.model import base_model
    from scripts.training import fit
    from scripts.training.st import trainer

    torch.set_num_threads(runtime.physical_cores())
    data = bench_data(args.rows, 42)
    base = base_model.resolve_model_name("packaged-minilm")
    tokenizer = base_model.load_tokenizer(base)
    max_len, _ = base_model.auto_max_seq_length(tokenizer, data["train_texts"], 256)
    model = fit.model_classes()["single"](
        "bert",
        base,
        num_labels=2,
        use_cuda=False,
        args={
            "num_train_epochs": 1,
            "train_batch_size": 16,
            "learning_rate": 5e-5,
            "manual_seed": 42,
            "max_seq_length": max_len,
            "use_multiprocessing": False,
            "use_multiprocessing_for_evaluation": False,
            "silent": True,
            "no_cache": True,
            "reprocess_input_data": True,
            "overwrite_output_dir": True,
            "save_model_every_epoch": False,
            "save_steps": -1,
            "output_dir": "/tmp/quickfit_profile",
            "tensorboard_dir": "/tmp/quickfit_profile/tb",
            "wandb_project": None,
        },
    )
    model.group_batches = trainer.GROUP_BATCHES if args.grouping == "True" else 1
    frame = pd.DataFrame({"text": data["train_texts"], "labels": data["train_labels"]})
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.train_model(frame)
    wall = time.perf_counter() - start
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages)
    print(f"wall {wall:.1f} s under the profiler; self CPU time by op (top 15 of {len(averages)}):")
    for event in sorted(averages, key=lambda e: -e.self_cpu_time_total)[:15]:
        print(f"  {100 * event.self_cpu_time_total / total:5.1f} %  {event.key}")


if __name__ == "__main__":
    main()
