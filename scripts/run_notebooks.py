#!/usr/bin/env python3
"""Executes every lesson in notebooks/ and then every worked solution in notebooks/solutions/
headless on the Rust kernel (evcxr), top to bottom, and fails on: a committed notebook with
outputs, an error output, a Rust panic in any output, or a cell tagged "figure" that shows no
image/png. A cell tagged "compile-error" must fail to compile, and show the compiler's error
(an `error[E....]` code, or the layer's 'wrong OUT_SIZE' shape error): the lessons show a few
on purpose.

  .venv/bin/python scripts/run_notebooks.py [--html DIR] [NOTEBOOK ...]

With --html, also writes each executed notebook as HTML (for teachers and for review).
Training cells read ALEXNET_LAB_QUICK=1 (set here unless already set) to train for seconds.
"""
import argparse, json, os, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def committed_outputs(nb):
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]


def texts(output):
    if output.get("output_type") == "stream":
        yield output.get("text", "")
    for key, value in output.get("data", {}).items():
        if key.startswith("text/"):
            yield value if isinstance(value, str) else "".join(value)
    if output.get("output_type") == "error":
        yield "\n".join(output.get("traceback", [])) + output.get("evalue", "")


# What a compile error looks like in a cell's output: rustc's code (`error[E0308]`, which evcxr
# prints as `[E0308] Error: ...`), or a size check the compiler evaluated (`const { assert!(..) }`:
# the layers' 'wrong OUT_SIZE', "evaluation panicked: ..."). A panic at run time says "panicked at".
COMPILE_ERROR = re.compile(r"\[E\d{4}\]|wrong OUT_SIZE|evaluation panicked|erroneous constant encountered")


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
            # A lesson about a compile error: it must fail to compile, and show the error.
            if not any(COMPILE_ERROR.search(t) for out in outs for t in texts(out)):
                problems.append(f"{name} cell {i}: tagged compile-error but shows no compile error "
                                "(no [E....] code and no failed size check)")
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="*")
    ap.add_argument("--html", help="write executed notebooks as HTML into this folder")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = ap.parse_args()
    os.environ.setdefault("ALEXNET_LAB_QUICK", "1")
    paths = [Path(p) for p in args.notebooks] or lessons_then_solutions()
    failures, passed = [], 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        dirty = committed_outputs(nb)
        if dirty:
            failures.append(f"{path.name}: committed with outputs in cells {dirty}; clear them before committing")
            continue
        start = time.time()
        client = NotebookClient(nb, kernel_name="rust", timeout=args.timeout, startup_timeout=180,
                                allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as e:  # allow_errors keeps going; this is a kernel-level failure
            failures.append(f"{path.name}: {e}")
            continue
        except Exception as e:  # a dead kernel or a timeout
            failures.append(f"{path.name}: the kernel failed: {type(e).__name__}: {e}")
            continue
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
    for f in failures:
        print(f, file=sys.stderr)
    print(f"notebooks: {passed} passed, {len(paths) - passed} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
