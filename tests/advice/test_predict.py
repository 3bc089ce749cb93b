"""The prediction model on probes given by hand: the bounds it says it uses, and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from conlab.advice.calibrate import costs
from conlab.advice.predict import (
    MODEL,
    chunksize_for,
    predict_all,
    predict_one,
    recommend,
    runner_up,
)
from conlab.advice.profile import Shipping, TaskProbe
from conlab.advice.words import threads_sentence


def made_probe(
    duration_s=0.1, cpu_s=0.1, pair_s=0.2, alone_s=0.2, cores=2, tasks=8, concurrency=1.0
) -> TaskProbe:
    return TaskProbe(
        tasks=tasks,
        sampled=2,
        duration_s=duration_s,
        cpu_s=cpu_s,
        runqueue_s=0.0,
        pair_s=pair_s,
        alone_s=alone_s,
        pair_cpu_concurrency=concurrency,
        cores=cores,
        gil_enabled=True,
        shipping=Shipping(args_bytes=100, result_bytes=10),
        durations_s=[duration_s] * tasks,
    )


def run_s(probe, name, workers):
    """The predicted wall time without the dispatch cost, which is measured on this machine."""
    dispatch = probe.tasks * costs(name, None).per_task_s
    return predict_one(probe, name, None, workers).wall_s - dispatch


def test_gil_bound_threads_never_beat_the_loop_and_processes_share_the_cores():
    probe = made_probe()
    assert probe.kind == "cpu" and probe.overlap == 0
    seq = predict_one(probe, "sequential", None, 1)
    assert seq.total_s == pytest.approx(0.8)
    assert predict_one(probe, "thread-pool", None, 2).wall_s >= 0.8
    pool = predict_one(probe, "process-pool", "fork", 2)
    assert 0.4 <= pool.wall_s < 0.5  # N*d/2, plus shipping and dispatch
    assert recommend(predict_all(probe)).strategy in ("process-pool", "processes")


def test_code_that_releases_the_gil_runs_in_threads():
    probe = made_probe(pair_s=0.1, concurrency=2.0)
    assert probe.kind == "cpu-nogil" and probe.overlap == pytest.approx(1.0)
    assert run_s(probe, "thread-pool", 2) == pytest.approx(0.4, rel=0.05)


def test_threads_whose_cpu_never_overlapped_cannot_claim_the_gil_was_released():
    # A busy machine made the pair look fast, but the CPU time says one thread at a time.
    probe = made_probe(pair_s=0.15, concurrency=1.0)
    assert probe.overlap == 0.0 and probe.kind == "cpu"


def test_waiting_overlaps_in_threads():
    probe = made_probe(cpu_s=0.001, pair_s=0.1, concurrency=0.02)
    assert probe.kind == "io" and probe.overlap > 0.95
    assert run_s(probe, "thread-pool", 8) == pytest.approx(0.1, rel=0.1)


def test_one_core_caps_every_strategy_at_the_loop():
    probe = made_probe(cores=1)
    seq = predict_one(probe, "sequential", None, 1).total_s
    assert all(p.total_s >= seq for p in predict_all(probe) if p.unavailable is None)


def test_chunks_amortise_dispatch_and_leave_work_for_every_worker():
    tiny = made_probe(duration_s=1e-5, cpu_s=1e-5, tasks=10_000)
    assert chunksize_for(tiny, per_task_s=3e-4, workers=2) == 600
    assert chunksize_for(made_probe(), per_task_s=3e-4, workers=2) == 1
    assert chunksize_for(made_probe(duration_s=1e-5, tasks=16), 3e-4, 2) == 2


def test_the_model_is_one_paragraph():
    assert "\n" not in MODEL and 100 < len(MODEL.split()) < 300


def stream_profile(duration_s, cpu_s, runqueue_s=0.0, cores=2):
    return TaskProbe.of_items(8, duration_s, cpu_s, runqueue_s, cores)


def test_a_stream_of_waiting_items_gets_threads_sized_from_the_wait_fraction():
    from conlab.advice.predict import stream_plan, threads_for

    mostly_waiting = stream_profile(0.05, 0.0005)  # 1 % computing: about 100 threads
    chosen, other = stream_plan(mostly_waiting, processes=2, max_threads=256)
    assert chosen.strategy == "thread-pool" and other.strategy == "processes"
    assert 90 <= chosen.workers <= 100
    assert chosen.wall_s < other.wall_s
    assert stream_plan(mostly_waiting, 2, max_threads=8)[0].workers == 8  # the bound holds
    half = stream_profile(0.01, 0.005)
    assert threads_for(half, 256) == 2  # the GIL-held half: two threads keep it busy
    # Time spent waiting for a busy CPU is the machine's: it does not make an item compute.
    queued = stream_profile(0.05, 0.0005, runqueue_s=0.02)
    assert stream_plan(queued, 2, 256)[0].workers > 50


def test_a_stream_of_computing_items_gets_the_process_pool():
    from conlab.advice.predict import stream_plan

    computing = stream_profile(0.25, 0.25)
    chosen, other = stream_plan(computing, processes=2, max_threads=256)
    assert (chosen.strategy, chosen.workers) == ("processes", 2)
    assert chosen.wall_s == pytest.approx(0.125) and other.wall_s == pytest.approx(0.25)
    assert computing.label == "computing (whether it releases the GIL was not measured)"
    one_core = stream_profile(0.25, 0.25, cores=1)
    assert stream_plan(one_core, 1, 256)[0].strategy == "thread-pool"  # a tie: the simpler


def test_an_items_wait_for_a_cpu_no_longer_than_conlab_computed_is_not_a_busy_machine():
    # On 2 cores with 2 workers, conlab.map's parent (the model's import, a CLI's reading)
    # takes a CPU from a worker: `conlab map` on a quiet machine said "the machine was busy
    # (other programs kept the CPUs)" of every CPU-bound function, 6-10 ms of a 13-19 ms item.
    from conlab.advice.predict import stream_plan
    from conlab.advice.words import stream_choice

    probe = TaskProbe.of_items(1, 0.014, 0.0057, 0.0083, 2)
    chosen, other = stream_plan(probe, processes=2, max_threads=256)
    assert chosen.strategy == "processes"  # the wait is CPU demand, whoever caused it

    def said(own_s):
        return stream_choice(probe, chosen, other, running=False, bound=256, own_s=own_s)

    ours = said(own_s=0.010)
    assert "8.3 ms of it waiting for a CPU while this process computed" in ours
    assert "busy" not in ours
    theirs = said(own_s=0.0)
    assert "8.3 ms of it waiting for a busy CPU" in theirs
    assert "The machine was busy (other programs kept the CPUs)" in theirs
    # Beyond what conlab computed, the rest is the machine's.
    assert "The machine was busy" in said(own_s=0.002)


def test_a_task_with_threads_of_its_own_on_a_busy_machine_is_not_predicted_slower_in_one_thread():
    # BLAS kept two cores busy during the probe while a pure-Python capacity probe saw one core
    # (other programs were running): the task's own two cores are evidence of what the machine
    # gave, so one worker thread is predicted as fast as the loop, not twice as slow.
    probe = made_probe(duration_s=0.1, cpu_s=0.1, pair_s=0.2, alone_s=0.2, concurrency=1.0)
    probe.own_cores, probe.capacity = 2.0, 1.0
    assert probe.parallel_cores == 2.0
    assert run_s(probe, "thread-pool", 1) == pytest.approx(0.8, rel=0.05)
    assert probe.label == "computing in threads of its own (2.0 cores per task)"


def test_the_words_never_call_a_pair_whose_cpu_never_overlapped_faster_because_of_overlap():
    from conlab.advice.words import threads_sentence

    probe = made_probe(pair_s=0.12, alone_s=0.2, concurrency=1.0)  # 1.67x, CPU one at a time
    text = threads_sentence(probe)
    assert "they do not overlap" in text and "1.67x is the machine's noise" in text, text
    blas = made_probe(pair_s=0.2, alone_s=0.2, concurrency=1.0)
    blas.own_cores = 2.0
    text = threads_sentence(blas)
    assert "they do not overlap: each task keeps 2.0 cores busy by itself" in text, text
    # A pair of tasks with threads of their own that ran faster is not said not to overlap
    # right after its speed-up: the words say what the model makes of it.
    faster = made_probe(pair_s=0.125, alone_s=0.2, concurrency=1.0)
    faster.own_cores = 2.0
    text = threads_sentence(faster)
    assert "(1.60x" in text and "do not overlap" not in text, text
    assert "which the whole workload need not repeat" in text, text


def test_the_runner_up_runs_tasks_at_once_when_any_strategy_can():
    # Computing on a machine that gives one core: the loop wins and thread-pool:1 ties it, but
    # a one-worker pool beside the loop says nothing; the verification needs a parallel one.
    probe = made_probe()
    probe.capacity = 1.0
    predictions = predict_all(probe)
    chosen = recommend(predictions)
    other = runner_up(predictions, chosen)
    assert other is not None and other.workers >= 2, other


def test_more_workers_take_a_larger_share_of_a_machine_others_keep_busy():
    # Beside one other spinner on 2 cores, Linux gives 2 runnable workers 2/3 of the machine
    # and 8 of them 8/9: the probe read 4/3 cores with 2 spinners and 16/9 with 8.
    probe = made_probe(tasks=16)
    probe.capacity, probe.crowded_capacity = 4 / 3, 16 / 9
    assert probe.parallel_cores_for(2) == pytest.approx(4 / 3)
    assert probe.parallel_cores_for(8) == pytest.approx(16 / 9)
    assert run_s(probe, "process-pool", 2) == pytest.approx(1.6 / (4 / 3), rel=0.05)
    assert run_s(probe, "process-pool", 8) == pytest.approx(1.6 / (16 / 9), rel=0.05)
    # Without the crowded figure (a quiet machine, or one not measured), every count gets 4/3.
    probe.crowded_capacity = None
    assert probe.parallel_cores_for(8) == pytest.approx(4 / 3)


def test_a_machine_short_of_cores_that_more_spinners_do_not_fill_is_flat():
    # A hypervisor that runs one of two vCPUs: 8 spinners get what 2 got.
    from conlab.measure.share import Capacity

    steal = Capacity(2, 1.1, 1.1)
    assert steal.others == 0.0
    assert [steal.for_runnable(n) for n in (1, 2, 8)] == [1.1, 1.1, 1.1]
    fair = Capacity(2, 4 / 3, 16 / 9)
    assert fair.others == pytest.approx(1.0)
    assert fair.for_runnable(1) == pytest.approx(1.0)
    assert fair.for_runnable(32) == pytest.approx(2 * 32 / 33)


def test_threads_that_release_the_gil_are_predicted_as_fast_as_their_pair_ran():
    # hashlib on large buffers: two batches took 150.7 ms in two threads against 262.7 ms one
    # after the other (1.74x, p = 0.85). Threads are predicted at what the pair showed, not at
    # two whole cores; processes, which share no GIL, at the cores: they win (as measured here,
    # 0.545 s against 0.598 s for thread-pool:2).
    probe = made_probe(
        duration_s=0.131, cpu_s=0.131, pair_s=0.1507, alone_s=0.2627, concurrency=1.75
    )
    assert probe.kind == "cpu-nogil"
    pair = probe.alone_s / probe.pair_s
    assert run_s(probe, "thread-pool", 2) == pytest.approx(8 * 0.131 / pair, rel=0.01)
    assert run_s(probe, "threads", 8) == pytest.approx(8 * 0.131 / pair, rel=0.01)
    assert run_s(probe, "process-pool", 2) < 0.9 * run_s(probe, "thread-pool", 2)
    # Code that releases the GIL throughout keeps threads at the cores.
    free = made_probe(pair_s=0.1, concurrency=2.0)
    assert run_s(free, "thread-pool", 2) == pytest.approx(0.4, rel=0.05)


def test_tasks_that_wait_then_compute_are_predicted_in_step():
    # The mixed workload: each task sleeps 0.1 s, then computes 0.075 s. In two threads the
    # pair slept together and computed one after the other (1 + 0.43 batches' time), so
    # tasks started together in a pool do the same: process-pool:4 runs two rounds of a
    # 0.1 s wait and 4 x 0.075 s of computing on 2 cores (0.5 s, measured 0.515 s), not the
    # 0.35 s of its computing spread over the cores; processes:8 one round (0.4 s, measured
    # 0.454 s): eight workers are recommended.
    d, c = 0.175, 0.075
    probe = made_probe(duration_s=d, cpu_s=c, alone_s=2 * d, pair_s=0.1 + 2 * c)
    assert probe.kind == "mixed"
    assert probe.alignment == pytest.approx(1.0)
    assert run_s(probe, "process-pool", 4) == pytest.approx(2 * (0.1 + 4 * c / 2), rel=0.05)
    # One process per task: its dispatch cost is paid once, not per task as run_s takes off.
    per_task = predict_one(probe, "processes", None, 8).wall_s - costs("processes", None).per_task_s
    assert per_task == pytest.approx(0.1 + 8 * c / 2, rel=0.05)
    best = recommend(predict_all(probe, ["sequential", "thread-pool", "process-pool", "processes"]))
    assert best.strategy in ("process-pool", "processes") and best.workers == 8, best
    # Finely mixed (a pair that filled its waits, max(1, 2f) batches): the bounds as they were.
    fine = made_probe(duration_s=d, cpu_s=c, alone_s=2 * d, pair_s=d)
    assert fine.alignment == 0.0
    assert run_s(fine, "process-pool", 4) == pytest.approx(max(2 * d, 8 * c / 2), rel=0.05)


def test_without_a_gil_tasks_in_step_are_read_from_their_cpu_timeline():
    # The mixed workload under 3.13t: the pair waited together and computed together on two
    # cores (1.94x), their CPU time only 2f = 0.86x the wall time: the CPU time cannot say
    # they computed at once, the speed-up can (one at a time, in step, gives 2 / 1.43 = 1.4x).
    d, c = 0.175, 0.075
    probe = made_probe(duration_s=d, cpu_s=c, alone_s=2 * d, pair_s=d * 1.03, concurrency=0.86)
    probe.gil_enabled, probe.bursts = False, 0.98
    assert probe.computed_at_once is True
    assert "could not pass 1.41x" in threads_sentence(probe)  # 2 / (0.98 x 1.43 + 0.02 x 1)
    assert probe.overlap > 0.9 and probe.alignment == pytest.approx(0.98)
    # Eight threads: one round, a 0.1 s wait and 8 x 0.075 s of computing on 2 cores (0.4 s,
    # measured 0.56 s under 3.13t); process-pool:4 two rounds (measured 0.65 s).
    assert run_s(probe, "thread-pool", 8) == pytest.approx(0.1 + 8 * c / 2, rel=0.05)
    assert run_s(probe, "thread-pool", 8) < run_s(probe, "process-pool", 4)
    # The same pair under the GIL cannot have computed at once; nor without a timeline.
    probe.gil_enabled = True
    assert probe.computed_at_once is False
    probe.gil_enabled, probe.bursts = False, None
    assert probe.computed_at_once is False
    # Computing finely mixed with waiting: one at a time could give 2x too, nothing is said.
    probe.bursts = 0.05
    assert probe.computed_at_once is False


def test_a_runner_up_predicted_faster_is_said_to_be_within_the_tie():
    from conlab.advice.words import why

    probe = made_probe()
    seq = predict_one(probe, "sequential", None, 1)
    slower = predict_one(probe, "process-pool", "fork", 2)
    faster = dataclasses.replace(slower, strategy="processes", wall_s=slower.wall_s * 0.98)
    said = why(probe, slower, seq, faster)
    assert "within 3%: the simpler one is recommended" in said, said
    assert "the simpler one" not in why(probe, faster, seq, slower)
    # asyncio for code not written async is kept out of the choice, not out of the runner-up:
    # one predicted well ahead is no tie.
    far = dataclasses.replace(slower, strategy="asyncio", wall_s=slower.wall_s * 0.8)
    assert "the simpler one" not in why(probe, slower, seq, far)
