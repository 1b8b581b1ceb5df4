"""The learning-rate schedule and the epoch batches both training loops share."""

from __future__ import annotations

import numpy as np
import pytest

import torch

from star.training.loop import autocast, epoch_batches, step_lr


def test_step_lr_warms_up_then_steps_down():
    assert [step_lr(e, 0.1, [3, 5], warmup_epochs=2) for e in range(7)] == pytest.approx(
        [0.05, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    assert [step_lr(e, 0.01, [2]) for e in range(4)] == pytest.approx([0.01, 0.01, 0.001, 0.001])  # no warm-up


def test_epoch_batches_cover_every_row_once_in_a_seeded_order():
    a = epoch_batches(10, 4, np.random.default_rng(3))
    b = epoch_batches(10, 4, np.random.default_rng(3))
    assert [len(x) for x in a] == [4, 4, 2]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(10))
    sorted_batches = epoch_batches(10, 4, np.random.default_rng(3), sort=True)
    assert all(np.array_equal(np.sort(x), y) for x, y in zip(a, sorted_batches))


def test_epoch_batches_leave_the_generator_where_the_shuffle_left_it():
    rng, ref = np.random.default_rng(7), np.random.default_rng(7)
    epoch_batches(9, 4, rng)
    ref.permutation(9)
    assert rng.random() == ref.random()  # the backbone loop draws its augmentation from the same generator


def test_autocast_runs_matmuls_in_bf16_only_when_asked():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with autocast("cpu", "fp32"):
        assert layer(x).dtype == torch.float32
    with autocast(torch.device("cpu"), "bf16"):
        y = layer(x)
    assert y.dtype == torch.bfloat16
    assert layer.weight.dtype == torch.float32  # the weights stay fp32
    torch.testing.assert_close(y.float(), layer(x), atol=0.05, rtol=0.02)


def test_device_name_counts_processes_under_torchrun(monkeypatch):
    import torch

    from star.training import distributed
    from star.training.runlog import cpu_model, device_name

    threads = torch.get_num_threads()
    assert device_name("cpu") == f"cpu ({cpu_model()}, {threads} threads)"
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    assert device_name("cpu") == f"cpu ({cpu_model()}, {threads} threads x 2 processes)"


def _gather_worker(rank: int, init: str, queue) -> None:
    import numpy as np
    import torch.distributed as dist

    from star.training import distributed

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    seen = []

    def compute(rows):
        seen.append(rows.tolist())
        return rows * 10, None, np.stack([rows, -rows], axis=1)

    out = distributed.gather_rows(5, compute)
    queue.put((rank, seen, [None if o is None else o.tolist() for o in out]))
    dist.destroy_process_group()


def test_gather_rows_splits_the_rows_between_processes_and_gives_everyone_all_of_them(tmp_path):
    import multiprocessing

    import numpy as np

    from star.training import distributed

    alone = distributed.gather_rows(3, lambda rows: (rows + 1, None))
    assert alone[0].tolist() == [1, 2, 3] and alone[1] is None
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_gather_worker, args=(r, f"file://{tmp_path}/rendezvous", queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = sorted(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert [seen for _, seen, _ in results] == [[[0, 2, 4]], [[1, 3]]]  # each process computed its share only
    for _, _, out in results:
        assert out[0] == [0, 10, 20, 30, 40] and out[1] is None
        np.testing.assert_array_equal(out[2], [[r, -r] for r in range(5)])
