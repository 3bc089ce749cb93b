"""advise(): probe a workload, predict every strategy, recommend, verify (see conlab.advice)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conlab._process.mainguard import main_not_imported_again
from conlab.advice import words
from conlab.advice.calibrate import LOOP
from conlab.advice.predict import (
    MODEL,
    TIE,
    Prediction,
    accepts_chunksize,
    predict_all,
    recommend,
    runner_up,
)
from conlab.advice.profile import TaskProbe, probe
from conlab.errors import UsageError
from conlab.measure.units import duration
from conlab.model import RUN_OK, Comparison, Run, Workload

if TYPE_CHECKING:
    from conlab.lab.compare import Progress
    from conlab.strategies import Strategy

# The lab and the strategy registry are imported where advise() runs them.

__all__ = ["MODEL", "Advice", "Prediction", "TaskProbe", "Verified", "advise", "strategy_for"]


@dataclass
class Verified:
    """One strategy run on the whole workload: what was predicted and what was measured."""

    prediction: Prediction
    run: Run

    @property
    def measured_s(self) -> float | None:
        if self.run.status != RUN_OK or self.run.median_wall_s is None:
            return None
        return (self.run.median_startup_s or 0.0) + self.run.median_wall_s

    @property
    def error(self) -> float | None:
        """Measured over predicted, minus one."""
        m = self.measured_s
        if m is None or self.prediction.total_s <= 0:
            return None
        return m / self.prediction.total_s - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.prediction.strategy,
            "workers": self.prediction.workers,
            "options": dict(self.prediction.options),
            "predicted_s": self.prediction.total_s,
            "measured_s": self.measured_s,
            "measured_startup_s": self.run.median_startup_s,
            "measured_wall_s": self.run.median_wall_s,
            "status": self.run.status,
        }


@dataclass
class Advice:
    """What advise found: the probe, every prediction, the choice and why, and the check."""

    workload: Workload
    probe: TaskProbe
    predictions: list[Prediction]
    chosen: Prediction
    runner_up: Prediction | None
    why: str
    comparison: Comparison | None = None
    verified: list[Verified] = field(default_factory=list)
    # Set when the verification measured another candidate faster beyond the noise.
    overridden: dict[str, Any] | None = None
    # The capacity measured again when the verification ran, and the prediction's before it.
    capacity_at_verification: float | None = None

    @property
    def sequential(self) -> Prediction:
        return next(p for p in self.predictions if p.family == LOOP)

    def verified_for(self, p: Prediction) -> Verified | None:
        return next((v for v in self.verified if v.prediction is p), None)

    def to_dict(self) -> dict[str, Any]:
        """The ``advice`` object of the result file."""
        mine = self.verified_for(self.chosen)
        pr = self.probe
        return {
            "strategy": self.chosen.strategy,
            "workers": self.chosen.workers,
            "options": dict(self.chosen.options),
            "chunksize": self.chosen.chunksize,
            "why": self.why,
            "predicted_s": self.chosen.total_s,
            "predicted_startup_s": self.chosen.startup_s,
            "predicted_wall_s": self.chosen.wall_s,
            "measured_s": None if mine is None else mine.measured_s,
            "runner_up": None if self.runner_up is None else self.runner_up.to_dict(),
            "probe": {
                "kind": pr.kind,
                "label": pr.label,
                "tasks": pr.tasks,
                "sampled": pr.sampled,
                "duration_s": pr.duration_s,
                "cpu_s": pr.cpu_s,
                "runqueue_s": pr.runqueue_s,
                "cpu_fraction": pr.cpu_fraction,
                "thread_speedup": pr.thread_speedup,
                "pair_cpu_concurrency": pr.pair_cpu_concurrency,
                "overlap": pr.overlap,
                "cores": pr.cores,
                "parallel_capacity": pr.capacity,
                "crowded_capacity": pr.crowded_capacity,
                "own_cores": pr.own_cores,
                "alignment": pr.alignment,
                "bursts": pr.bursts,
                "gil_enabled": pr.gil_enabled,
                "args_bytes": pr.shipping.args_bytes,
                "result_bytes": pr.shipping.result_bytes,
                "pickle_error": pr.shipping.error,
                "probe_s": pr.probe_s,
            },
            "predictions": [p.to_dict() for p in self.predictions],
            "verification": [v.to_dict() for v in self.verified],
            "overridden": self.overridden,
            "capacity_at_verification": self.capacity_at_verification,
            "model": MODEL,
        }


def strategy_for(p: Prediction) -> Strategy:
    """The strategy a prediction is about, ready to run."""
    from conlab.strategies import REGISTRY, make

    options: dict[str, Any] = dict(p.options)
    if p.chunksize and accepts_chunksize(p.strategy):
        options["chunksize"] = p.chunksize
    pooled = REGISTRY[p.strategy].pooled and p.family != LOOP
    return make(p.strategy, p.workers if pooled else None, **options)


def _check_strategies(strategies: Sequence[str] | None) -> list[str] | None:
    if strategies is None:
        return None
    from conlab.strategies import make

    names = list(strategies)
    for name in names:
        make(name)  # an unknown name raises UnknownNameError with suggestions
    return names


def _written_async(workload: Workload) -> bool:
    """Whether the user's code is itself async: only then is asyncio advice about the code as written.

    A catalogue workload's async variant is a rewrite of its tasks; advising it
    for waiting work would tell the user to rewrite code that threads run as is.
    """
    from conlab.workloads.user import run_coroutine

    return workload.async_tasks is not None and all(t.fn is run_coroutine for t in workload.tasks)


def advise(
    workload: Workload,
    *,
    workers: int | None = None,
    strategies: Sequence[str] | None = None,
    start_method: str | None = None,
    verify: bool = True,
    repeats: int = 3,
    warmup: int = 1,
    progress: Progress | None = None,
) -> Advice:
    """Probe ``workload``, predict every strategy, recommend one and (``verify``) check it."""
    if not isinstance(workload, Workload):
        raise UsageError(f"advise takes a Workload, not {type(workload).__name__}")
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise UsageError(f"workers must be a whole number of at least 1, not {workers!r}")
    from conlab.lab.compare import check_counts

    check_counts(repeats, warmup)
    names = _check_strategies(strategies)
    if start_method is not None:
        from conlab._process.crashes import resolve_start_method

        resolve_start_method(start_method)
    # The workload's setup (a server, a temporary directory) is what its tasks need to run.
    with workload.prepared():
        measured = probe(workload)
    advice = _advice(workload, measured, names, workers, start_method)
    if verify:
        from conlab.measure.share import measure_share

        # The prediction the verification checks uses the machine's capacity as it is now.
        fresh = measure_share()
        if fresh is not None:
            measured.set_capacity(fresh)
            advice = _advice(workload, measured, names, workers, start_method)
            advice.capacity_at_verification = fresh.at_cores
        _verify(advice, repeats, warmup, progress)
    return advice


def _advice(
    workload: Workload,
    measured: TaskProbe,
    names: list[str] | None,
    workers: int | None,
    start_method: str | None,
) -> Advice:
    """Every prediction from the probe, and the recommendation."""
    module = getattr(workload.tasks[0].fn, "__module__", None)
    with main_not_imported_again():
        predictions = predict_all(
            measured, names, workers, start_method, module, workload.async_tasks is not None
        )
    if not any(p.unavailable is None for p in predictions):
        raise UsageError(f"no strategy can run the {workload.name} workload here")
    chosen = recommend(predictions, async_as_written=_written_async(workload))
    other = runner_up(predictions, chosen)
    sequential = next(p for p in predictions if p.family == LOOP)
    why = words.why(measured, chosen, sequential, other)
    if measured.cores_per_task > 1:
        why += (
            f" Each task keeps {measured.own_cores:.2f} cores busy by itself, run in one thread "
            "(threads of its own, as BLAS, numexpr or numba start): the model counts them, so "
            "more workers share the same cores."
        )
    return Advice(workload, measured, predictions, chosen, other, why)


def _verify(advice: Advice, repeats: int, warmup: int, progress: Progress | None) -> None:
    """Run the choice and the runner-up (and sequential, the reference) on the whole workload."""
    checked = [p for p in (advice.chosen, advice.runner_up) if p is not None]
    checked = [p for p in checked if p.family != LOOP]
    from conlab.lab.compare import compare

    comparison = compare(
        advice.workload,
        [strategy_for(p) for p in checked],
        repeats,
        warmup,
        progress=progress,
        title=f"Advice for {advice.workload.name}: predicted against measured",
    )
    runs = comparison.runs
    for p in [advice.sequential, *checked]:
        run = runs[0] if p.family == LOOP else runs[1 + checked.index(p)]
        advice.verified.append(Verified(p, run))
    advice.comparison = comparison
    _follow_evidence(advice)
    comparison.advice = advice.to_dict()


def _timed_s(run: Run) -> list[float]:
    """Start-up plus wall time of each repeat (what the prediction's total is about)."""
    if len(run.startup_s) == len(run.wall_s):
        return [s + w for s, w in zip(run.startup_s, run.wall_s, strict=True)]
    return list(run.wall_s)


def _follow_evidence(advice: Advice) -> None:
    """Recommend the candidate the verification measured fastest, beyond the noise."""
    from conlab.measure import stats

    mine = advice.verified_for(advice.chosen)
    done = [v for v in advice.verified if v.measured_s is not None]
    if mine is None or mine.measured_s is None or not done:
        return
    best = min(done, key=lambda v: v.measured_s or 0.0)
    if best is mine or (mine.run.contended and not best.run.contended):
        return  # the choice may have been slower only for want of cores: no conclusion
    ratio = stats.bootstrap_ratio_ci(_timed_s(mine.run), _timed_s(best.run))
    if ratio is None or ratio[0] <= 1.0 + TIE:
        return  # within the noise: the prediction's choice stands
    was = advice.chosen
    assert best.measured_s is not None and mine.measured_s is not None
    faster = mine.measured_s / best.measured_s - 1
    wrong_by = mine.error or 0.0
    advice.overridden = {
        "predicted": was.to_dict(),
        "measured_s": mine.measured_s,
        "instead": best.prediction.to_dict(),
        "instead_measured_s": best.measured_s,
        "faster": faster,
        "prediction_error": wrong_by,
    }
    advice.runner_up = was if was.family != LOOP else advice.runner_up
    advice.chosen = best.prediction
    advice.why = (
        f"The prediction was wrong: it chose {words.describe(was)}, predicted at "
        f"{duration(was.total_s, 's')}, which measured {duration(mine.measured_s, 's')} "
        f"({wrong_by:+.0%}), while {words.describe(best.prediction)} measured "
        f"{duration(best.measured_s, 's')} "
        f"({faster:.0%} faster, beyond the noise): the measurement decides. " + advice.why
    )
