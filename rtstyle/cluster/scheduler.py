"""Run a batch of videos on Ray: cut, hand segments to workers, retry the lost, join.

driver: cut each input at keyframes (stream copy) --segment bytes--> N SegmentWorker
actors (engine loaded once each) --stylised bytes--> driver: join (stream copy) + audio,
rename into place.

Ray core actors, not Ray Data: a segment is a whole file that one process must decode,
stylise in order (the stabiliser carries state) and encode, not a set of independent
rows; and the driver must know exactly which segment was lost with a dead worker, to
resubmit it and count it, while a segment that fails on its own (a corrupt file) is not
worth retrying. Ray restarts a dead worker process (`max_restarts`), and the driver
resubmits its segment to the next free worker, at most `retries` times.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtstyle.cluster.segments import Layout, Piece, join, plan_cuts, read_layout, split
from rtstyle.cluster.worker import SegmentWorker
from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output
from rtstyle.progress import progress_bar

INSTALL_HINT = "pip install 'rtstyle[cluster]'"
_HINT = "give HEAD:6379 on a cluster node, ray://HEAD:10001 from outside, or auto"
_PROBES = 20  # failed probes (0.5 s apart) before a dead worker is given up
_RESTART_WAIT_S = 600  # and how long a probe may wait for Ray to place the restarted worker
# A local Ray's object store: segments pass through it as encoded files (megabytes), never
# as frames, and Ray spills to disk beyond it. Ray's default (30% of RAM, 7.3 GB on 24 GiB)
# alone breaks a 6 GB address-space limit.
OBJECT_STORE_BYTES = 512 * 1024 * 1024
_LOCAL_FIX = ("check free memory and disk space in /tmp and /dev/shm, try again when the "
              "machine is less busy, or join a running cluster with --cluster ADDRESS")


def require_ray():
    """Import Ray, or say in one line how to get it."""
    try:
        import ray
    except ImportError:
        raise RtstyleError(f"cluster mode needs Ray, which is not installed; install it "
                           f"with `{INSTALL_HINT}`") from None
    return ray


@dataclass
class FileJob:
    """One input file on its way to one output file."""

    src: Path
    dst: Path
    layout: Layout | None = None
    pieces: list[Piece] = field(default_factory=list)
    outputs: dict[int, Path] = field(default_factory=dict)
    frames: int = 0
    retried: int = 0  # segment runs lost with a dead worker and run again
    error: str | None = None
    done: bool = False

    def line(self) -> str:
        n = len(self.pieces)
        if self.error is not None:
            return f"{self.src}: FAILED: {self.error}"
        text = f"{self.src} -> {self.dst}: {self.frames} frames in {n} segment{'s' * (n != 1)}"
        if self.layout and self.frames != self.layout.packets:
            text += f" ({self.layout.packets - self.frames} undecodable frames skipped)"
        if self.retried:
            text += f", {self.retried} segment run{'s' * (self.retried > 1)} retried after " \
                    "a worker died"
        return text


@dataclass
class BatchSummary:
    jobs: list[FileJob]
    workers: list[dict[str, Any]]
    seconds: float  # the whole run, from reading the inputs to the last file in place
    startup: float = 0.0  # of which: Ray up and every worker's engine loaded

    @property
    def done(self) -> list[FileJob]:
        return [j for j in self.jobs if j.done]

    @property
    def failed(self) -> list[FileJob]:
        return [j for j in self.jobs if not j.done]

    @property
    def retried(self) -> int:
        return sum(j.retried for j in self.jobs)

    @property
    def frames(self) -> int:
        return sum(j.frames for j in self.done)

    def lines(self) -> list[str]:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        kinds = sorted({f"{w['engine']} on {w['backend']}" for w in self.workers})
        return [j.line() for j in self.jobs] + [
            f"batch: {len(self.done)} done, {self.retried} retried, {len(self.failed)} failed "
            f"({len(self.workers)} workers, {', '.join(kinds) or 'none started'}; "
            f"{self.frames} frames in {self.seconds:.1f} s, {fps:.2f} fps; Ray start and "
            f"engine loading {self.startup:.1f} s of it)"]


@dataclass
class _Run:
    job: FileJob
    piece: Piece
    attempts: int = 0


def plan_jobs(inputs: list[Path], outdir: Path) -> list[FileJob]:
    """One job per input, written as OUTDIR/<stem>.mp4; fails before any work on names
    that clash or would overwrite an input."""
    jobs = [FileJob(Path(src), outdir / f"{Path(src).stem}.mp4") for src in inputs]
    seen: dict[Path, Path] = {}
    for j in jobs:
        if j.dst in seen:
            raise RtstyleError(f"{seen[j.dst]} and {j.src} would both be written as {j.dst}; "
                               "rename one or run them into different folders")
        seen[j.dst] = j.src
        if j.src.exists() and j.dst.exists() and j.src.resolve() == j.dst.resolve():
            raise RtstyleError(f"output {j.dst} is the input; choose another output folder")
    return jobs


@contextlib.contextmanager
def connected(cluster: str) -> Iterator[None]:
    """Start a local Ray ('auto', no dashboard) or join the cluster at ADDRESS, and
    disconnect (removing a local Ray's folder) at the end. A Ray the caller set up is used
    and left running."""
    ray = require_ray()
    if ray.is_initialized():
        yield
        return
    folder = _socket_folder() if cluster == "auto" else None
    try:
        with _quiet_ray():
            if folder is not None:
                _start_local(ray, folder)
            else:
                ray.init(address=cluster, logging_level=logging.ERROR)
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, its own
        ray.shutdown()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        if folder is not None:
            raise RtstyleError(f"could not start a local Ray ({first}); {_LOCAL_FIX}") from None
        raise RtstyleError(f"cannot reach the Ray cluster at {cluster} ({first}); "
                           f"{_HINT}") from None
    try:
        yield
    finally:
        ray.shutdown()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _start_local(ray, folder: Path, tries: int = 2) -> None:
    """A local Ray in `folder`. Ray gives its raylet a fixed 30 s to register, which a
    busy machine can miss ("timed out during startup"): that one failure is tried again."""
    for attempt in range(tries):
        try:
            # (Ray 2.60 has no loopback-only mode: it turns 127.0.0.1 into this node's
            # address and listens on every interface, behind its token authentication.)
            ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR,
                     object_store_memory=OBJECT_STORE_BYTES, _temp_dir=str(folder))
            return
        except Exception as e:
            if "timed out during startup" not in str(e) or attempt == tries - 1:
                raise
            ray.shutdown()


def _socket_folder() -> Path:
    """A new folder for a local Ray's sockets and logs, with a short path: Ray nests
    session_<time>_<pid>/sockets/plasma_store under it, and AF_UNIX paths end at 107
    bytes, so a long $TMPDIR (which Ray uses by default) breaks its start. $RAY_TMPDIR,
    when set, is the user's own choice."""
    for base in (os.environ.get("RAY_TMPDIR"), "/tmp", tempfile.gettempdir()):
        if base:
            with contextlib.suppress(OSError):
                return Path(tempfile.mkdtemp(prefix="rtray-", dir=base))
    raise RtstyleError("cannot create a folder for Ray in /tmp or $TMPDIR; check their "
                       "permissions and free space")


@contextlib.contextmanager
def _quiet_ray():
    """Ray's start-up warnings (e.g. about /dev/shm) and errors go to its logger; the one
    line rtstyle prints on failure says it all."""
    logger = logging.getLogger("ray")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after Ray's own minutes of reconnecting, when nothing
    listens at HOST:PORT."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise RtstyleError(f"--cluster {address} is not an address; {_HINT}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout).close()
    except OSError as e:
        raise RtstyleError(f"cannot reach the Ray cluster at {address} "
                           f"({e.strerror or e}); {_HINT}") from None


def style_file(spec: str | Path) -> tuple[str, bytes]:
    """The model or painting file behind `spec`, to ship to workers (they need not share
    a file system or a style catalogue with the driver)."""
    from rtstyle.engines import is_painting
    from rtstyle.styles.catalogue import find_style

    path = Path(spec) if is_painting(spec) else find_style(str(spec)).path
    try:
        return path.name, path.read_bytes()
    except OSError as e:
        raise RtstyleError(f"cannot read style {path} ({e.strerror}); check the path") from e


def run_batch(inputs: list[Path], outdir: Path, *, style: str | Path, cluster: str = "auto",
              backend: str = "auto", threads: int | None = None, swap: Any = None,
              workers: int | None = None, cpus_per_worker: float = 1,
              gpus_per_worker: float | None = None, segment_seconds: float = 30.0,
              retries: int = 2, options: dict[str, Any] | None = None,
              progress: bool | None = None) -> BatchSummary:
    """Stylise every input into OUTDIR/<stem>.mp4 on Ray.

    options: passed to `stylise_video` on the workers (max_size, size, crf, strength,
        keep_colors, stabilize, batch).
    Inputs that fail are reported in the summary; the others go on."""
    ray = require_ray()
    if retries < 0:
        raise RtstyleError(f"--retries {retries} must be 0 or more")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise RtstyleError(f"output {outdir} is a file; give a folder")
    jobs = plan_jobs(inputs, outdir)
    shipped = style_file(style)  # a bad style fails before Ray starts
    if cluster != "auto" and not ray.is_initialized():
        check_reachable(cluster)  # in seconds, before any work
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RtstyleError(f"cannot create output folder {outdir} ({e.strerror})") from e
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".rtstyle-batch-", dir=outdir))
    except OSError as e:
        raise RtstyleError(f"cannot write to output folder {outdir} ({e.strerror}); choose "
                           "another -o folder") from None
    t0 = time.perf_counter()
    stack = contextlib.ExitStack()
    try:
        runs: list[_Run] = []
        for k, job in enumerate(jobs):
            try:
                job.layout = read_layout(job.src)
                folder = scratch / f"{k:04d}"
                folder.mkdir()
                job.pieces = split(job.layout, plan_cuts(job.layout, segment_seconds), folder)
            except RtstyleError as e:
                job.error = str(e)
                continue
            runs += [_Run(job, p) for p in job.pieces]
        if not runs:  # nothing readable: no need for Ray
            return BatchSummary(jobs, [], time.perf_counter() - t0)
        t1 = time.perf_counter()
        stack.enter_context(connected(cluster))
        style_ref = [ray.put(shipped)]  # held here for the whole run: restarts reload it
        pool, infos = _start_workers(ray, style_ref, backend, threads, swap, workers,
                                     cpus_per_worker, gpus_per_worker, len(runs))
        startup = time.perf_counter() - t1
        total = sum(j.layout.packets for j in jobs if j.error is None and j.layout)
        bar = progress_bar(total, "frame", "batch", progress)
        try:
            _schedule(ray, pool, style_ref, deque(runs), options or {}, retries, bar)
        finally:
            bar.close()
        return BatchSummary(jobs, infos, time.perf_counter() - t0, startup)
    finally:
        stack.close()  # Ray first: its workers may still hold segment files
        shutil.rmtree(scratch, ignore_errors=True)


def _start_workers(ray, style, backend, threads, swap, workers, cpus_per_worker,
                   gpus_per_worker, most):
    """An actor per GPU (when the cluster has GPUs) or per `cpus_per_worker` CPUs."""
    res = ray.cluster_resources()
    gpus = res.get("GPU", 0)
    if gpus_per_worker is None:
        gpus_per_worker = 1 if gpus >= 1 else 0
    if workers is None:
        workers = int(gpus // gpus_per_worker) if gpus_per_worker else \
            int(res.get("CPU", 1) // max(cpus_per_worker, 1e-9))
    workers = min(workers, most)  # no more workers than segments
    cpus = res.get("CPU", 0)
    if workers < 1 or workers * cpus_per_worker > cpus or workers * gpus_per_worker > gpus:
        # Ray would keep the workers that do not fit pending, and the run would wait forever.
        raise RtstyleError(f"the cluster has {cpus:g} CPUs and {gpus:g} GPUs, too few for "
                           f"{max(workers, 1)} workers of {cpus_per_worker:g} CPUs and "
                           f"{gpus_per_worker:g} GPUs each; lower --workers, "
                           "--cpus-per-worker or --gpus-per-worker")
    n_threads = threads if threads is not None else max(1, int(cpus_per_worker))
    actor = ray.remote(SegmentWorker).options(
        num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=-1,
        max_task_retries=0)
    pool = [actor.remote(backend, n_threads, swap) for _ in range(workers)]
    try:
        infos = ray.get([a.describe.remote(style) for a in pool])
    except ray.exceptions.RayError as e:
        raise RtstyleError(f"the workers could not load the engine ({_cause(e)})") from e
    return pool, infos


def _schedule(ray, pool, style: list, queue: deque[_Run], options: dict[str, Any],
              retries: int, bar) -> None:
    """Keep every live worker busy with one segment; retry segments lost with a worker;
    join each file as soon as its last segment is back (see _Scheduler)."""
    _Scheduler(ray, pool, style, queue, options, retries, bar).run()


class _Scheduler:
    """Segments to workers, one at a time each. A worker whose process died gets no
    segment until Ray has restarted it and it answers a probe (which reloads its engine),
    so a retried segment runs on a live worker."""

    def __init__(self, ray, pool, style: list, queue: deque[_Run], options: dict[str, Any],
                 retries: int, bar):
        self.ray, self.style, self.queue, self.options = ray, style, queue, options
        self.retries, self.bar = retries, bar
        self.lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                     ray.exceptions.ObjectLostError, ray.exceptions.NodeDiedError)
        self.idle = list(pool)
        self.running: dict[Any, tuple[Any, _Run]] = {}
        self.probes: dict[Any, tuple[Any, int]] = {}  # ref -> (worker, failed probes so far)
        self.since: dict[Any, float] = {}  # probe ref -> when it was sent

    def run(self) -> None:
        while self.queue or self.running:
            self._dispatch()
            if not self.running and not self.probes:
                for run in self.queue:  # every worker is gone for good
                    run.job.error = run.job.error or "every worker died and none came back"
                break
            ready, _ = self.ray.wait([*self.running, *self.probes], num_returns=1,
                                     timeout=5.0)
            for ref in [r for r in self.probes
                        if time.monotonic() - self.since[r] > _RESTART_WAIT_S]:
                self.probes.pop(ref)  # restarted nowhere (no room on the cluster): give up
            for ref in ready:
                if ref in self.probes:
                    self._probed(ref)
                elif ref in self.running:
                    self._returned(ref)

    def _dispatch(self) -> None:
        """A queued segment to each idle worker (skipping files that already failed)."""
        while self.queue and self.idle:
            run = self.queue.popleft()
            if run.job.error is not None:  # another segment of this file failed
                continue
            actor = self.idle.pop(0)
            data = run.piece.path.read_bytes()
            ref = actor.stylise.remote(self.style, data, run.piece.path.suffix, self.options)
            self.running[ref] = (actor, run)

    def _probe(self, actor, failures: int) -> None:
        probe = actor.describe.remote(self.style)
        self.probes[probe], self.since[probe] = (actor, failures), time.monotonic()

    def _probed(self, ref) -> None:
        """A probe answered: the worker is back, or still restarting (ask again shortly)."""
        actor, failures = self.probes.pop(ref)
        try:
            self.ray.get(ref)
            self.idle.append(actor)
        except self.lost:
            if failures < _PROBES:
                time.sleep(0.5)
                self._probe(actor, failures + 1)

    def _returned(self, ref) -> None:
        """A segment came back: store it, or retry it if its worker was lost."""
        actor, run = self.running.pop(ref)
        job = run.job
        try:
            out = self.ray.get(ref)
        except self.lost as e:
            self._probe(actor, 0)
            run.attempts += 1
            job.retried += 1
            if run.attempts > self.retries:
                job.error = (f"segment {run.piece.index} was lost with its worker "
                             f"{run.attempts} times ({_cause(e)})")
            else:
                self.queue.appendleft(run)
            return
        except self.ray.exceptions.RayTaskError as e:
            self.idle.append(actor)
            job.error = f"segment {run.piece.index}: {_cause(e)}"
            return
        self.idle.append(actor)
        if job.error is None:
            self._store(run, out)

    def _store(self, run: _Run, out: dict) -> None:
        """Write a styled segment; join its file when it was the last one."""
        job = run.job
        path = run.piece.path.parent / f"styled{run.piece.index:04d}.mp4"
        path.write_bytes(out["data"])
        job.outputs[run.piece.index] = path
        job.frames += out["frames"]
        self.bar.update(run.piece.packets)
        if len(job.outputs) == len(job.pieces):
            _finish(job)


def _finish(job: FileJob) -> None:
    """Join a file's segments into its output, which appears only when complete."""
    try:
        with atomic_output(job.dst) as tmp:
            join(job.pieces, [job.outputs[p.index] for p in job.pieces], job.layout, tmp)
        job.done = True
    except RtstyleError as e:
        job.error = str(e)
    for p in job.outputs.values():
        with contextlib.suppress(OSError):
            p.unlink()


def _cause(e: BaseException) -> str:
    """The one line that says why a Ray call failed."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, RtstyleError):
        return str(cause)
    text = str(e).strip().splitlines()
    for ln in reversed(text):
        if "RtstyleError:" in ln:
            return ln.split("RtstyleError:", 1)[1].strip()
    if cause is not None and not isinstance(cause, RtstyleError):
        return f"{type(cause).__name__}: {cause}"
    return next((ln.strip() for ln in text if ln.strip()), type(e).__name__)
