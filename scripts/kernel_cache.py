#!/usr/bin/env python3
"""The Rust kernel's compile cache, warmed and kept fresh (scripts/setup.sh runs both steps).

  .venv/bin/python scripts/kernel_cache.py warm NOTEBOOK GENERATED
      run NOTEBOOK's first code cell on the course's kernel (it compiles the crate and its
      dependencies into evcxr's cache) and keep a copy of the sources that the dependencies'
      build scripts generated in GENERATED; fails with the cell's error
  .venv/bin/python scripts/kernel_cache.py mend GENERATED
      point evcxr's cached dependency lists at those copies where the files they name are gone

Why the second step: evcxr compiles every cell in a new folder per kernel, and its cache
(`:cache`) hands each dependency compiled once to every later kernel, together with the list of
source files rustc read for it (its dep-info, the `.d` file). For the crates whose build script
writes code (pulp, serde, serde_core, thiserror here), that list names a file in the build
folder of the kernel that first compiled them, deleted when that kernel stopped. Cargo checks
the list before every cell, finds a file missing, and takes the crate and everything above it
(gemm, safetensors, dfdx, ...) out of the cache again, on every cell. With the list naming a
copy that exists (and is older than the compiled crate, as the copy kept at warm-up is), cargo
finds them up to date. Only the file names in those lists change; the compiled crates in the
cache are not touched. The cache is the user's, shared by every project's kernels: a list is
changed only where the folder it names is gone and GENERATED holds that very build script's
output (same crate, same hash); one naming a folder that exists (another clone's kernel) is
left as it is. After a compiler or evcxr upgrade the hashes change: setup warms again (its key
names both) and keeps the new outputs.
"""
import os, re, shutil, sys
from pathlib import Path

# A build script's output folder in a dep-info file: target/[<triple>/]<profile>/build/<crate-hash>/out,
# an absolute path that starts a word (or follows `OUT_DIR=`); rustc writes a space in a path as "\ ".
OUT_DIR = re.compile(
    r"(?<![^\s=])(/(?:\\ |[^\s])*?/target/(?:[^/\s]+/)?[^/\s]+/build/([^/\s]+)/out)(?=[/\s]|$)")


def cache_dir():
    """evcxr's cache folder (the `dirs` crate's cache folder, then `evcxr`)."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # as `dirs` reads it
    return base / "evcxr"


def warm(notebook, generated):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    where = nbformat.v4.new_code_cell(":last_compile_dir")
    nb.cells = [first, where]
    client = NotebookClient(nb, kernel_name="rust", timeout=3600, startup_timeout=300,
                            resources={"metadata": {"path": str(Path(notebook).parent)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as error:
                sys.exit(str(error))
        # While the kernel runs, its build folder holds what the build scripts wrote.
        text = "".join(o.get("text", "") or "".join(o.get("data", {}).get("text/plain", ""))
                       for o in where.outputs)
        folder = Path(text.strip())
        if not folder.is_absolute() or not folder.is_dir():
            sys.exit(f"kernel_cache: evcxr's :last_compile_dir gave {text.strip()!r}, not a folder")
        target = folder / "target"
        outs = sorted(target.glob("**/build/*/out"))
        if not outs:
            sys.exit(f"kernel_cache: no build-script output under {target}: evcxr's layout changed?")
        if generated.exists():
            shutil.rmtree(generated)
        for out in outs:
            shutil.copytree(out, generated / out.parent.name / "out", dirs_exist_ok=True)  # keeps the files' times
    print(f"   kept {len(outs)} build-script outputs in {generated}")


def mend(generated):
    """Rewrites the missing build-script folders named in the cache's .d files to GENERATED's copies."""
    mended = 0
    for dep_info in sorted(cache_dir().glob("*/*.d")):
        try:
            text = dep_info.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        new = text
        for escaped, crate in sorted(set(OUT_DIR.findall(text))):
            folder = escaped.replace("\\ ", " ")
            copy = generated.resolve() / crate / "out"
            if os.path.isdir(folder) or not copy.is_dir():
                continue
            new = new.replace(escaped, str(copy).replace(" ", "\\ "))
        if new != text:
            partial = dep_info.with_name(dep_info.name + ".mending")
            partial.write_text(new, encoding="utf-8")
            partial.replace(dep_info)
            mended += 1
    if mended:
        print(f"   {mended} cached dependency lists now name the kept build-script outputs")


def main(argv):
    if len(argv) == 3 and argv[0] == "warm":
        warm(argv[1], Path(argv[2]))
    elif len(argv) == 2 and argv[0] == "mend":
        mend(Path(argv[1]))
    else:
        sys.exit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    main(sys.argv[1:])
