"""The result file, schema ``conlab.results/1``: writing it, and reading it back strictly.

It is JSON, never a pickle: one environment hoisted to the top, one or more comparisons.
Each run keeps every timing sample and the task records of its median repeat (of its
failing repeat, when it failed), times in seconds from the start of that repeat.
"""

from __future__ import annotations

import json
import math
from typing import Any

from conlab import outputs
from conlab.errors import ResultFileError
from conlab.measure import contention, noise, stats, workkind
from conlab.model import (
    RUN_STATUSES,
    TASK_STATUSES,
    Comparison,
    Contention,
    Results,
    Run,
    TaskRecord,
    Worker,
)

SCHEMA = "conlab.results/1"


# --- writing -------------------------------------------------------------------------------


def _seconds(ns: int | None, t0: int | None) -> float | None:
    return None if ns is None or t0 is None else (ns - t0) / 1e9


def _task(record: TaskRecord, t0: int | None) -> dict[str, Any]:
    w = record.worker
    return {
        "name": record.name,
        "status": record.status,
        "start_s": _seconds(record.start_ns, t0),
        "end_s": _seconds(record.end_ns, t0),
        "cpu_s": None if record.cpu_ns is None else record.cpu_ns / 1e9,
        "worker": None if w is None else _worker(w),
        "output": record.output,
        # Each write's time and length, so output can be replayed as it interleaved.
        "output_writes": [[_seconds(t, t0), len(text)] for t, text in record.output_chunks],
        "output_dropped_chars": record.output_dropped_chars,
        "error": record.error,
        "traceback": record.traceback,
        "exit_code": record.exit_code,
        # Only when an engine re-ran the task after losing a worker.
        **({"attempts": record.attempts} if record.attempts != 1 else {}),
    }


def _worker(w: Worker) -> dict[str, Any]:
    out: dict[str, Any] = {"host": w.host, "pid": w.pid, "thread": w.thread}
    if w.address is not None:
        out["address"] = w.address
    return out


def run_to_dict(run: Run) -> dict[str, Any]:
    return {
        "strategy": run.strategy,
        "workers": run.workers,
        "workers_source": run.workers_source,
        "options": run.options,
        "status": run.status,
        "reason": run.reason,
        "wall_s": stats.as_dict(run.wall_s),
        "startup_s": run.median_startup_s,
        "startup_samples_s": run.startup_s,
        "naive_wall_s": run.naive_wall_s,
        "floor_s": run.floor_s,
        "speedup": run.speedup,
        "cpu_s": run.median_cpu_s,
        "cpu_samples_s": run.cpu_s,
        "parallelism": run.parallelism,
        "peak_rss_bytes": run.max_peak_rss_bytes,
        "peak_rss_samples_bytes": run.peak_rss_bytes,
        "speedup_ci": None if run.speedup_ci is None else list(run.speedup_ci),
        "peak_uss_bytes": run.max_peak_uss_bytes,
        "peak_uss_samples_bytes": run.peak_uss_bytes,
        "other_cores_samples": run.other_cores,
        "load_avg_samples": run.load_avg,
        "machine": [contention.to_dict(m) for m in run.machine],
        "contended": run.contended,
        "speedup_contended": run.speedup_contended,
        "gil": run.gil,
        "set_aside": [
            {"wall_s": w, "machine": contention.to_dict(m)}
            for w, m in zip(run.set_aside_wall_s, run.set_aside_machine, strict=False)
        ],
        "tasks": [_task(r, run.t0_ns) for r in run.records],
    }


def comparison_to_dict(c: Comparison, cores: int | None = None) -> dict[str, Any]:
    return {
        "workload": {"name": c.workload, "kind": c.kind, "tasks": c.tasks, "params": c.params},
        "title": c.title,
        "measured_kind": workkind.to_dict(c.measured_kind),
        "settings": {
            "repeats": c.repeats,
            "warmup": c.warmup,
            **({"remeasure": c.remeasure} if c.remeasure is not None else {}),
        },
        "runs": [run_to_dict(r) for r in c.runs],
        "notes": list(c.notes),
        "warnings": [
            {"kind": w.kind, "run": w.run, "message": w.message}
            for w in noise.comparison_warnings(c, cores)
        ],
        "advice": c.advice,
        **({} if c.environment is None else {"environment": c.environment}),
        **({"sweep": c.sweep} if c.sweep is not None else {}),
    }


def to_dict(results: Results) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "complete": results.complete,
        "environment": results.environment,
        "comparisons": [
            comparison_to_dict(c, results.environment_of(c).get("usable_cpus"))
            for c in results.comparisons
        ],
        **({"environments": results.environments} if results.environments else {}),
    }


def _jsonable(value: Any) -> Any:
    """Parameters may hold tuples or other values; the file holds their JSON form or repr."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def dumps(results: Results) -> str:
    """The file's text: strict JSON (NaN and infinities become null)."""
    return json.dumps(_jsonable(to_dict(results)), indent=1, allow_nan=False)


def write(results: Results, path: str) -> None:
    """Write atomically: a reader, or a crash mid-write, never sees half a file."""
    outputs.write_text(dumps(results), path)


def write_text(data: str, path: str) -> None:
    """Replace ``path`` with ``data`` atomically (see :mod:`conlab.outputs`)."""
    outputs.write_text(data, path)


# --- reading -------------------------------------------------------------------------------


class _Reader:
    """Reads one file, failing with the path and the place in the file that is wrong."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> ResultFileError:
        return ResultFileError(f"{self.path}: {where}: {what}")

    def get(self, obj: Any, key: str, where: str, kinds: Any, optional: bool = False) -> Any:
        if not isinstance(obj, dict):
            raise self.fail(where, f"expected an object, found {type(obj).__name__}")
        if key not in obj:
            if optional:
                return None
            raise self.fail(where, f"missing {key!r}")
        value = obj[key]
        if optional and value is None:
            return None
        if isinstance(value, bool) and bool not in (
            kinds if isinstance(kinds, tuple) else (kinds,)
        ):
            raise self.fail(f"{where}.{key}", f"expected {_kind_names(kinds)}, found a boolean")
        if not isinstance(value, kinds):
            raise self.fail(
                f"{where}.{key}", f"expected {_kind_names(kinds)}, found {type(value).__name__}"
            )
        if isinstance(value, (int, float)) and not _sane_number(value):
            raise self.fail(f"{where}.{key}", "expected a finite number of sensible size")
        return value

    def numbers(self, obj: Any, key: str, where: str) -> list[float]:
        values = self.get(obj, key, where, list, optional=True) or []
        for k, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not _sane_number(v):
                raise self.fail(f"{where}.{key}[{k}]", "expected a finite number of sensible size")
        return [float(v) for v in values]


# Larger numbers are no measurement (and 10**400 cannot even become a float).
_LARGEST = 2**63


def _sane_number(value: float) -> bool:
    if isinstance(value, int):
        return abs(value) < _LARGEST
    return math.isfinite(value) and abs(value) < _LARGEST


def _kind_names(kinds: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer"}
    names.update({float: "a number", bool: "a boolean"})
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# A result file of 10,000 runs of 1,000 tasks is some 100 MB; more is not one of ours.
MAX_FILE_BYTES = 256 * 2**20
_CHUNK_BYTES = 2**20
_JSON_STARTS = b'{["-0123456789tfn'  # the bytes JSON text can begin with


def _read_bounded(path: str) -> bytes:
    """The file's bytes, refused past MAX_FILE_BYTES or when its first byte cannot begin
    JSON text (``/dev/zero`` and ``/dev/urandom`` are never read to the end)."""
    chunks: list[bytes] = []
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            if not chunks and chunk.lstrip(b" \t\r\n")[:1] not in _JSON_STARTS:
                raise ResultFileError(f"{path}: not a conlab result file (not UTF-8 JSON text)")
            size += len(chunk)
            if size > MAX_FILE_BYTES:
                raise ResultFileError(
                    f"{path}: not a conlab result file (larger than {MAX_FILE_BYTES >> 20} MiB)"
                )
            chunks.append(chunk)
    return b"".join(chunks)


def load(path: str) -> Results:
    """Read a result file; any problem is one ResultFileError naming the path and the place."""
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        raise ResultFileError(
            f"{path}: no such file; give the path of a file written with --json"
        ) from None
    except IsADirectoryError:
        raise ResultFileError(f"{path}: is a directory, not a result file") from None
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte in the path
        raise ResultFileError(f"{path!r}: not a usable file name") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ResultFileError(f"{path}: not a conlab result file (not UTF-8 text)") from None
    except RecursionError:
        raise ResultFileError(f"{path}: not a conlab result file (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise ResultFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "was the run interrupted while writing it?"
        ) from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise ResultFileError(
            f"{path}: not a conlab result file (it holds a number too long to read)"
        ) from None
    return from_dict(data, path)


def from_dict(data: Any, path: str = "<results>") -> Results:
    r = _Reader(path)
    if not isinstance(data, dict) or "schema" not in data:
        raise ResultFileError(f'{path}: not a conlab result file (no "schema" field)')
    schema = data["schema"]
    if schema != SCHEMA:
        raise ResultFileError(
            f"{path}: schema {schema!r} is not one this conlab reads ({SCHEMA}); "
            "use the conlab version that wrote it"
        )
    env = r.get(data, "environment", "file", dict)
    comparisons = r.get(data, "comparisons", "file", list)
    complete = r.get(data, "complete", "file", bool, optional=True)
    out = Results(environment=env, complete=True if complete is None else complete)
    environments = r.get(data, "environments", "file", list, optional=True) or []
    for k, e in enumerate(environments):
        if not isinstance(e, dict):
            raise r.fail(f"environments[{k}]", f"expected an object, found {type(e).__name__}")
        out.environments.append(e)
    for k, c in enumerate(comparisons):
        comparison = _comparison(r, c, f"comparisons[{k}]")
        which = r.get(c, "environment", f"comparisons[{k}]", int, optional=True)
        if which is not None and not 0 <= which < len(out.environments):
            raise r.fail(
                f"comparisons[{k}].environment",
                f"{which} names no entry of environments (it has {len(out.environments)})",
            )
        comparison.environment = which
        out.comparisons.append(comparison)
    return out


def _comparison(r: _Reader, c: Any, where: str) -> Comparison:
    w = r.get(c, "workload", where, dict)
    settings = r.get(c, "settings", where, dict)
    comparison = Comparison(
        workload=r.get(w, "name", f"{where}.workload", str),
        kind=r.get(w, "kind", f"{where}.workload", str),
        tasks=r.get(w, "tasks", f"{where}.workload", int),
        params=r.get(w, "params", f"{where}.workload", dict, optional=True) or {},
        repeats=r.get(settings, "repeats", f"{where}.settings", int),
        warmup=r.get(settings, "warmup", f"{where}.settings", int),
        title=r.get(c, "title", where, str, optional=True) or "",
        notes=[str(n) for n in r.get(c, "notes", where, list, optional=True) or []],
        advice=_advice(r, r.get(c, "advice", where, dict, optional=True), f"{where}.advice"),
        sweep=r.get(c, "sweep", where, dict, optional=True),
        remeasure=_remeasure(r, settings, f"{where}.settings"),
        measured_kind=workkind.from_dict(c.get("measured_kind"), r.fail, where),
    )
    for k, run in enumerate(r.get(c, "runs", where, list)):
        comparison.runs.append(_run(r, run, f"{where}.runs[{k}]"))
    return comparison


def _remeasure(r: _Reader, settings: dict[str, Any], where: str) -> dict[str, Any] | None:
    """How contended runs were measured again; absent from files written before it existed."""
    m = r.get(settings, "remeasure", where, dict, optional=True)
    at = f"{where}.remeasure"
    if m is not None:
        for key in ("rounds", "max_rounds"):
            if r.get(m, key, at, int) < 0:
                raise r.fail(f"{at}.{key}", "expected a whole number of at least 0")
        r.get(m, "max_s", at, (int, float))
        if m.get("stopped_by") not in (None, "rounds", "time"):
            raise r.fail(f"{at}.stopped_by", "expected rounds, time or null")
    return m


def _advice(r: _Reader, a: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """The advice object that ``conlab advise --json`` writes: its fields are checked, then kept."""
    if a is None:
        return None
    number = (int, float)
    r.get(a, "strategy", where, str)
    r.get(a, "workers", where, int)
    r.get(a, "chunksize", where, int, optional=True)
    r.get(a, "why", where, str)
    r.get(a, "predicted_s", where, number)
    r.get(a, "measured_s", where, number, optional=True)
    for key in ("predictions", "verification"):
        for k, item in enumerate(r.get(a, key, where, list)):
            at = f"{where}.{key}[{k}]"
            r.get(item, "strategy", at, str)
            r.get(item, "workers", at, int)
            r.get(item, "predicted_s" if key == "verification" else "total_s", at, number)
    return a


def _run(r: _Reader, d: Any, where: str) -> Run:
    status = r.get(d, "status", where, str)
    if status not in RUN_STATUSES:
        raise r.fail(f"{where}.status", f"{status!r} is not one of {', '.join(RUN_STATUSES)}")
    wall = r.get(d, "wall_s", where, dict, optional=True)
    number = (int, float)
    run = Run(
        strategy=r.get(d, "strategy", where, str),
        workers=r.get(d, "workers", where, int),
        workers_source=workkind.source_from(d.get("workers_source"), r.fail, where),
        options=r.get(d, "options", where, dict, optional=True) or {},
        status=status,
        reason=r.get(d, "reason", where, str, optional=True),
        wall_s=r.numbers(wall, "samples", f"{where}.wall_s") if wall is not None else [],
        startup_s=r.numbers(d, "startup_samples_s", where),
        cpu_s=r.numbers(d, "cpu_samples_s", where),
        peak_rss_bytes=[int(v) for v in r.numbers(d, "peak_rss_samples_bytes", where)],
        floor_s=r.get(d, "floor_s", where, number, optional=True),
        speedup=r.get(d, "speedup", where, number, optional=True),
        naive_wall_s=r.get(d, "naive_wall_s", where, number, optional=True),
        t0_ns=0,
        speedup_ci=_interval(r, d, "speedup_ci", where),
        peak_uss_bytes=[int(v) for v in r.numbers(d, "peak_uss_samples_bytes", where)],
        other_cores=r.numbers(d, "other_cores_samples", where),
        load_avg=r.numbers(d, "load_avg_samples", where),
        speedup_contended=bool(r.get(d, "speedup_contended", where, bool, optional=True)),
        gil=r.get(d, "gil", where, dict, optional=True),
    )
    machines = r.get(d, "machine", where, list, optional=True) or []
    run.machine = [_read_machine(r, m, f"{where}.machine[{k}]") for k, m in enumerate(machines)]
    if run.machine and len(run.machine) != len(run.wall_s):
        raise r.fail(
            f"{where}.machine", f"{len(run.machine)} entries for {len(run.wall_s)} samples"
        )
    for k, item in enumerate(r.get(d, "set_aside", where, list, optional=True) or []):
        at = f"{where}.set_aside[{k}]"
        run.set_aside_wall_s.append(float(r.get(item, "wall_s", at, (int, float))))
        run.set_aside_machine.append(
            _read_machine(r, r.get(item, "machine", at, dict), f"{at}.machine")
        )
    for k, t in enumerate(r.get(d, "tasks", where, list)):
        run.records.append(_record(r, t, k, f"{where}.tasks[{k}]"))
    return run


def _read_machine(r: _Reader, m: Any, where: str) -> Contention:
    try:
        return contention.from_dict(m)
    except ValueError as exc:
        at, what = str(exc).split(": ", 1)
        raise r.fail(f"{where}{at}", what) from None


def _interval(r: _Reader, d: Any, key: str, where: str) -> tuple[float, float] | None:
    values = r.numbers(d, key, where) if r.get(d, key, where, list, optional=True) else []
    if not values:
        return None
    if len(values) != 2:
        raise r.fail(f"{where}.{key}", "expected [low, high]")
    return values[0], values[1]


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e9)


def _record(r: _Reader, t: Any, index: int, where: str) -> TaskRecord:
    number = (int, float)
    status = r.get(t, "status", where, str)
    if status not in TASK_STATUSES:
        raise r.fail(f"{where}.status", f"{status!r} is not one of {', '.join(TASK_STATUSES)}")
    w = r.get(t, "worker", where, dict, optional=True)
    worker = None
    if w is not None:
        worker = Worker(
            host=r.get(w, "host", f"{where}.worker", str),
            pid=r.get(w, "pid", f"{where}.worker", int),
            thread=r.get(w, "thread", f"{where}.worker", int),
            address=r.get(w, "address", f"{where}.worker", str, optional=True),
        )
    output = r.get(t, "output", where, str, optional=True) or ""
    chunks = _split_output(r, output, r.get(t, "output_writes", where, list, optional=True), where)
    cpu = r.get(t, "cpu_s", where, number, optional=True)
    return TaskRecord(
        index=index,
        name=r.get(t, "name", where, str),
        status=status,
        start_ns=_ns(r.get(t, "start_s", where, number, optional=True)),
        end_ns=_ns(r.get(t, "end_s", where, number, optional=True)),
        cpu_ns=_ns(cpu),
        worker=worker,
        output_chunks=chunks,
        output_dropped_chars=r.get(t, "output_dropped_chars", where, int, optional=True) or 0,
        error=r.get(t, "error", where, str, optional=True),
        traceback=r.get(t, "traceback", where, str, optional=True),
        exit_code=r.get(t, "exit_code", where, int, optional=True),
        attempts=r.get(t, "attempts", where, int, optional=True) or 1,
    )


def _split_output(
    r: _Reader, output: str, writes: list[Any] | None, where: str
) -> list[tuple[int, str]]:
    if not writes:
        return [(0, output)] if output else []
    chunks, pos = [], 0
    for k, item in enumerate(writes):
        ok = (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[1], int)
            and not isinstance(item[1], bool)
            and 0 <= item[1] < _LARGEST
            and (item[0] is None or (isinstance(item[0], (int, float)) and _sane_number(item[0])))
        )
        if not ok:
            raise r.fail(f"{where}.output_writes[{k}]", "expected [seconds, length]")
        chunks.append((_ns(item[0]) or 0, output[pos : pos + item[1]]))
        pos += item[1]
    if pos != len(output):
        raise r.fail(f"{where}.output_writes", "lengths do not add up to the output")
    return chunks


def json_schema() -> dict[str, Any]:
    """The JSON Schema of this format, shipped in the package (conlab/schemas/)."""
    from importlib import resources

    text = resources.files("conlab.schemas").joinpath("conlab.results-1.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
