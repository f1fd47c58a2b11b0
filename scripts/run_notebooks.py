#!/usr/bin/env python3
"""Executes every lesson in notebooks/ and then every worked solution in notebooks/solutions/
headless on the Rust kernel (evcxr), top to bottom, and fails on: a committed notebook with
outputs or with a cell that has no id (nbformat 4.5 requires one), an error output, a Rust panic in any output, or a cell tagged "figure" that shows no
image/png. A cell tagged "compile-error" must fail to compile with the error it teaches: its
metadata names it, `"compile_error": ["E0308"]`, or `["wrong OUT_SIZE"]` for a layer's size
check (evcxr shows its message without a code); every entry must show in the cell's output and
every rustc code shown must be one of them, so a drill that fails for another reason (a renamed
variable, E0425) fails the run. The lessons show a few on purpose.

  .venv/bin/python scripts/run_notebooks.py [--html DIR] [--report-md FILE] [--report-json FILE] [--overlap] [NOTEBOOK ...]

With --html, also writes each executed notebook as HTML (for teachers and for review).
With --overlap (make test), each notebook's kernel starts while the notebook before it runs.
Every code cell's wall time is recorded and a latency report printed at the end (per notebook
and for the course: the kernel's start, the first cell, median and 90th percentile of the other cells, the slowest
cell; cells tagged "training" apart). It is a report, never a failure; the one the README quotes
is made without --overlap (`make latency`), as a learner opening one notebook meets it. --report-md and
--report-json also write it to a file (markdown table; every cell's time as JSON).
Training cells read ALEXNET_LAB_QUICK=1 (set here unless already set) to train for seconds.
"""
import argparse, asyncio, json, os, re, statistics, sys, tempfile, time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def committed_outputs(nb):
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]


def cells_without_id(path):
    """The cells of the notebook file at `path` that have no `id` (nbformat.read would add one)."""
    return [i for i, c in enumerate(json.loads(path.read_text(encoding="utf-8")).get("cells", [])) if "id" not in c]


def texts(output):
    if output.get("output_type") == "stream":
        yield output.get("text", "")
    for key, value in output.get("data", {}).items():
        if key.startswith("text/"):
            yield value if isinstance(value, str) else "".join(value)
    if output.get("output_type") == "error":
        yield "\n".join(output.get("traceback", [])) + output.get("evalue", "")


# rustc's error codes in a cell's output: `error[E0308]`, which evcxr prints as `[E0308] Error: ...`.
# A size check the compiler evaluated (`const { assert!(..) }`) shows the layer's message
# ('wrong OUT_SIZE') without a code. A panic at run time says "panicked at".
ERROR_CODE = re.compile(r"\[(E\d{4})\]")


def compile_error_problem(cell, outs):
    """Why a cell tagged compile-error does not show the error it names (None when it does)."""
    expected = cell.get("metadata", {}).get("compile_error")
    if not expected or not isinstance(expected, list):
        return 'tagged compile-error but names no error: add metadata "compile_error": ["E...."]'
    shown = "\n".join(t for out in outs for t in texts(out))
    missing = [e for e in expected if e not in shown]
    if missing:
        return f"tagged compile-error for {expected} but {missing} not in its output: {shown.strip()[:300]}"
    others = sorted(set(ERROR_CODE.findall(shown)) - set(expected))
    if others:
        return f"tagged compile-error for {expected} but it also fails with {others}: {shown.strip()[:300]}"
    return None


def lessons_then_solutions():
    """notebooks/NN-*.ipynb in order, then notebooks/solutions/*.ipynb in order."""
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    return lessons + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))


def check(nb, name):
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outs = cell.get("outputs", [])
        tags = cell.get("metadata", {}).get("tags", [])
        if "compile-error" in tags:
            # A lesson about a compile error: it must fail to compile, with the error it teaches.
            problem = compile_error_problem(cell, outs)
            if problem:
                problems.append(f"{name} cell {i}: {problem}")
            continue
        for out in outs:
            if out.get("output_type") == "error":
                problems.append(f"{name} cell {i}: error: {out.get('ename')}: {out.get('evalue')}")
            for text in texts(out):
                if "panicked at" in text:
                    problems.append(f"{name} cell {i}: a panic: {text.strip()[:300]}")
        if "figure" in tags:
            if not any("image/png" in out.get("data", {}) for out in outs):
                problems.append(f"{name} cell {i}: tagged figure but shows no image/png")
    return problems


# ---- cell latency report (prints numbers, never fails) ----

TRAINING_TAG = "training"  # cells whose work is long by design, reported apart
STARTUP_TIMEOUT = 180  # seconds for a kernel to answer (a cold one compiles the crate first)


class CellTimer:
    """nbclient hooks that record each code cell's wall time (request sent to reply received)."""

    def __init__(self):
        self.seconds, self._started = {}, {}

    def started(self, cell, cell_index, **_):
        self._started[cell_index] = time.perf_counter()

    def finished(self, cell, cell_index, **_):
        if cell_index in self._started:
            self.seconds[cell_index] = time.perf_counter() - self._started.pop(cell_index)


def first_line(source):
    lines = [l.strip() for l in source.splitlines() if l.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= 70 else line[:67] + "..."


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def notebook_timings(name, nb, seconds, kernel_start):
    """The kernel's start and one notebook's cells in order: index, seconds, tags, first line."""
    cells = []
    for i, cell in enumerate(nb.cells):
        if i in seconds:
            tags = cell.get("metadata", {}).get("tags", [])
            cells.append({"notebook": name, "cell": i, "seconds": round(seconds[i], 3),
                          "training": TRAINING_TAG in tags, "first_line": first_line(cell.source)})
    return {"notebook": name, "kernel_start": round(kernel_start, 3), "cells": cells}


def latency_summary(name, timings):
    """Kernel start; first cell; median, 90th percentile and slowest of the other untagged cells;
    training cells."""
    cells = [c for t in timings for c in t["cells"]]
    firsts = [t["cells"][0] for t in timings if t["cells"]]
    first_ids = {(c["notebook"], c["cell"]) for c in firsts}
    others = [c for c in cells if (c["notebook"], c["cell"]) not in first_ids and not c["training"]]
    training = [c for c in cells if c["training"] and (c["notebook"], c["cell"]) not in first_ids]
    times = [c["seconds"] for c in others]
    slowest = max(others, key=lambda c: c["seconds"], default=None)
    return {
        "name": name,
        "kernel_start": [t["kernel_start"] for t in timings],
        "first": [c["seconds"] for c in firsts],
        "cells": len(others),
        "median": percentile(times, 50),
        "p90": percentile(times, 90),
        "slowest": slowest,
        "training": training,
        "total": sum(c["seconds"] for c in cells),
    }


def fmt(x):
    return "-" if x is None else f"{x:.2f}"


def latency_markdown(timings):
    """The report: a row per notebook, a row for the course, the training cells apart."""
    rows = [latency_summary(t["notebook"], [t]) for t in timings]
    course = latency_summary("course", timings)
    head = ("| notebook | kernel start (s) | first cell (s) | cells | median (s) | p90 (s) | slowest cell (s) | total (s) |\n"
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    out = [head]
    for r in rows:
        s = r["slowest"]
        slow = f"{s['seconds']:.2f} `{s['first_line']}`" if s else "-"
        out.append(f"| {r['name']} | {fmt(r['kernel_start'][0])} | {fmt(r['first'][0] if r['first'] else None)} | "
                   f"{r['cells']} | {fmt(r['median'])} | {fmt(r['p90'])} | {slow} | {r['total']:.0f} |")
    s = course["slowest"]

    def spread(values):
        return f"{fmt(statistics.median(values))} median, {fmt(max(values))} max" if values else "-"

    slow = f"{s['seconds']:.2f} `{s['first_line']}` ({s['notebook']})" if s else "-"
    out.append(f"| **course** | {spread(course['kernel_start'])} | {spread(course['first'])} | "
               f"{course['cells']} | **{fmt(course['median'])}** | "
               f"**{fmt(course['p90'])}** | {slow} | {course['total']:.0f} |")
    if course["training"]:
        out.append("")
        out.append(f"Cells tagged `{TRAINING_TAG}` (long by design, not in the figures above):")
        out.append("")
        for c in course["training"]:
            out.append(f"- {c['notebook']} cell {c['cell']}: {c['seconds']:.2f} s `{c['first_line']}`")
    return "\n".join(out)


def write_latency_report(timings, md_path=None, json_path=None, overlap=False):
    if not timings:
        return
    text = latency_markdown(timings)
    print(f"\ncell latency (wall time per cell, seconds; a report, not a test{'; kernels started early: --overlap' if overlap else ''}):")
    print(text, flush=True)
    if md_path:
        import datetime, platform
        lessons = sum(1 for t in timings if "-solutions" not in t["notebook"])
        quick = "ALEXNET_LAB_QUICK=1 " if os.environ.get("ALEXNET_LAB_QUICK") else ""
        flags = "--overlap " if overlap else ""
        header = (f"<!-- written by: {quick}.venv/bin/python scripts/run_notebooks.py {flags}--report-md FILE; "
                  f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
                  f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}; "
                  f"{lessons} lessons and {len(timings) - lessons} solutions -->")
        Path(md_path).write_text(header + "\n" + text + "\n")
    if json_path:
        body = {"notebooks": timings, "summary": [latency_summary(t["notebook"], [t]) for t in timings]
                + [latency_summary("course", timings)]}
        Path(json_path).write_text(json.dumps(body, indent=1) + "\n")


def self_test():
    """The checks above on made-up outputs: each case a cell, its outputs, and whether it passes."""
    def cell(tags, **meta):
        return nbformat.v4.new_code_cell(metadata={"tags": tags, **meta})

    def stream(text):
        return nbformat.v4.new_output("stream", name="stderr", text=text)

    drill = {"compile_error": ["E0308"]}
    cases = [
        ("the named error", cell(["compile-error"], **drill), [stream("[E0308] Error: mismatched types")], True),
        ("another error (a renamed variable)", cell(["compile-error"], **drill),
         [stream("[E0425] Error: cannot find value `modle` in this scope")], False),
        ("the named error and another", cell(["compile-error"], **drill),
         [stream("[E0308] Error: mismatched types\n[E0425] Error: cannot find value")], False),
        ("a size check by its message", cell(["compile-error"], compile_error=["wrong OUT_SIZE"]),
         [stream("evaluation panicked: Conv2D: wrong OUT_SIZE. ...")], True),
        ("a drill that names no error", cell(["compile-error"]), [stream("[E0308] Error: mismatched types")], False),
        ("a drill that compiles", cell(["compile-error"], **drill), [], False),
        ("a panic at run time", cell([]), [stream("thread 'main' panicked at src/lib.rs:1:1")], False),
        ("a figure without a PNG", cell(["figure"]), [stream("done")], False),
        ("a plain cell", cell([]), [stream("42")], True),
    ]
    passed = 0
    for what, c, outs, ok in cases:
        c["outputs"] = outs
        got = not check(nbformat.v4.new_notebook(cells=[c]), "self-test")
        passed += got == ok
        if got != ok:
            print(f"runner self-test: {what}: {'passes' if got else 'fails'}, should {'pass' if ok else 'fail'}")
    # The id check reads the file as committed: a cell written without one, then with one.
    raw = json.loads(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("1"), nbformat.v4.new_markdown_cell("a")])))
    del raw["cells"][1]["id"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.ipynb"
        for what, want in [("a cell without an id", [1]), ("every cell with its id", [])]:
            path.write_text(json.dumps(raw), encoding="utf-8")
            got = cells_without_id(path)
            cases.append(what)
            passed += got == want
            if got != want:
                print(f"runner self-test: {what}: cells {got} found without an id, should be {want}")
            raw["cells"][1]["id"] = "a1"
    print(f"runner: {passed} passed, {len(cases) - passed} failed")
    return 0 if passed == len(cases) else 1


class Kernel:
    """The Rust kernel for one notebook, started in its folder, and how long it took to answer
    (evcxr runs the course's first cell as it starts: see scripts/rust-kernel.sh)."""

    def __init__(self, path):
        self.path, self.km, self.ready_after = path, AsyncKernelManager(kernel_name="rust"), None

    async def start(self, timeout):
        t0 = time.perf_counter()
        await self.km.start_kernel(cwd=str(self.path.parent))
        kc = self.km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
        finally:
            kc.stop_channels()
        self.ready_after = time.perf_counter() - t0

    async def stop(self):
        try:
            if await self.km.is_alive():
                await self.km.shutdown_kernel()
        finally:
            await self.km.cleanup_resources()


async def run(paths, args):
    """Runs `paths` one after another, each on a kernel of its own, cells one at a time. With
    args.overlap, the next notebook's kernel starts while the one before it runs: most of a
    start is evcxr's rust-analyzer on one core, and a notebook's cells leave the other one
    mostly idle (about a fifth less wall time on 2 cores), but cells and starts then share the
    CPU, and the latency report measures both slower than a learner's one notebook sees."""
    failures, passed, timings = [], 0, []
    runnable = []
    notebooks = {}
    for path in paths:
        nb = notebooks[path] = nbformat.read(path, as_version=4)
        dirty, no_id = committed_outputs(nb), cells_without_id(path)
        if dirty:
            failures.append(f"{path.name}: committed with outputs in cells {dirty}; clear them before committing")
        elif no_id:
            failures.append(f"{path.name}: cells {no_id} have no id; open and save the notebook in JupyterLab, which adds them")
        else:
            runnable.append(path)

    def starting(path):
        kernel = Kernel(path)
        return kernel, asyncio.ensure_future(kernel.start(STARTUP_TIMEOUT))

    upcoming = None
    try:
        for i, path in enumerate(runnable):
            kernel, ready = upcoming or starting(path)
            upcoming = None
            start = time.time()
            try:
                await ready
            except Exception as e:
                failures.append(f"{path.name}: the kernel did not start: {type(e).__name__}: {e}")
                await kernel.stop()
                continue
            finally:
                if args.overlap and i + 1 < len(runnable):
                    upcoming = starting(runnable[i + 1])
            nb = notebooks[path]
            timer = CellTimer()
            client = NotebookClient(nb, km=kernel.km, timeout=args.timeout, startup_timeout=STARTUP_TIMEOUT,
                                    allow_errors=True, resources={"metadata": {"path": str(path.parent)}},
                                    on_cell_execute=timer.started, on_cell_executed=timer.finished)
            try:
                await client.async_execute()
                timings.append(notebook_timings(path.name, nb, timer.seconds, kernel.ready_after))
            except CellExecutionError as e:  # allow_errors keeps going; this is a kernel-level failure
                failures.append(f"{path.name}: {e}")
                continue
            except Exception as e:  # a dead kernel or a timeout
                if getattr(client, "_async_cleanup_kernel_future", None) is not None:
                    # nbclient stopped the kernel on Ctrl-C (or SIGTERM): stop the run too
                    failures.append(f"{path.name}: interrupted; the notebooks after it did not run")
                    break
                failures.append(f"{path.name}: the kernel failed: {type(e).__name__}: {e}")
                continue
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
                await kernel.stop()
            problems = check(nb, path.name)
            took = time.time() - start
            if problems:
                failures.extend(problems)
                print(f"FAIL {path.name} ({took:.0f} s)")
                for p in problems:
                    print(f"     {p}", flush=True)
            else:
                passed += 1
                print(f"ok   {path.name} ({took:.0f} s)", flush=True)
            if args.html:
                from nbconvert import HTMLExporter
                out = Path(args.html)
                out.mkdir(parents=True, exist_ok=True)
                body, _ = HTMLExporter().from_notebook_node(nb)
                (out / (path.stem + ".html")).write_text(body)
    finally:  # a kernel started early for a notebook the run did not reach (Ctrl-C)
        if upcoming is not None:
            upcoming[1].cancel()
            await upcoming[0].stop()
    return failures, passed, timings


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="*")
    ap.add_argument("--html", help="write executed notebooks as HTML into this folder")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--report-md", help="also write the cell latency report (markdown) to this file")
    ap.add_argument("--report-json", help="also write every cell's wall time (JSON) to this file")
    ap.add_argument("--overlap", action="store_true",
                    help="start each notebook's kernel while the one before it runs (faster; the latency report then counts the overlap)")
    ap.add_argument("--self-test", action="store_true", help="check the runner's checks on made-up outputs, run nothing")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    os.environ.setdefault("ALEXNET_LAB_QUICK", "1")
    paths = [Path(p) for p in args.notebooks] or lessons_then_solutions()
    failures, passed, timings = asyncio.run(run(paths, args))
    write_latency_report(timings, args.report_md, args.report_json, args.overlap)
    for f in failures:
        print(f, file=sys.stderr)
    print(f"notebooks: {passed} passed, {len(paths) - passed} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
