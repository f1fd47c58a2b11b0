"""Fashion-MNIST as `alexnet train --dataset fashion-mnist --per-class N` sees it, for the twins.

Reads the four gzipped IDX files from the data folder and gives the same training,
validation and test images, in the same order and normalised the same way, as the crate:

  * files: `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
    `t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz`, in `<data>/fashion-mnist/`
    or in `<data>` itself (`src/data/fashion_mnist.rs`, `locate`). The data folder is
    `--data-dir`, else `$ALEXNET_LAB_DATA`, else `data/` in the repository, as for the crate.
  * images: each 28x28 grey photo padded with 2 black pixels on every side to 32x32 and its
    grey value copied to the three channels (`grey_to_image`), channels first (CHW).
  * selection: the first N images of each class of the training file, in file order
    (`Images::per_class`); the test file is used whole.
  * split: the last `min(5000, n // 10)` of those n images are the validation set, the rest
    the training set (`default_val_size`, `Dataset::split`); N = 900 gives 8100 / 900.
  * normalisation: per-channel mean and standard deviation of `pixel / 255` over the
    training split only, summed in double precision and stored as single precision; every
    image becomes `(pixel * (1/255) - mean) * (1/std)` (`Normalization` in
    `src/data/transform.rs`).

Only the standard library and numpy.
"""
import gzip
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FOLDER = "fashion-mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
CLASSES = ["T-shirt/top", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle boot"]
SIDE = 28
SIZE = 32
PAD = (SIZE - SIDE) // 2
DEFAULT_VAL_SIZE = 5000
DOWNLOAD = "alexnet data download --dataset fashion-mnist"


class DataError(Exception):
    """A data folder or file that is missing or unreadable; the message is one line."""


def data_dir(explicit=None):
    """The data folder: `explicit` (a flag), else $ALEXNET_LAB_DATA, else the repository's data/."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ALEXNET_LAB_DATA")
    return Path(env) if env else ROOT / "data"


def locate(directory):
    """The folder holding the four files: `directory/fashion-mnist`, or `directory` itself."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such data folder; run `{DOWNLOAD}`")
    for folder in (directory / FOLDER, directory):
        if (folder / TRAIN_IMAGES).is_file():
            return folder
    raise DataError(f"{directory}: no Fashion-MNIST here (looked for {FOLDER}/{TRAIN_IMAGES} "
                    f"and {TRAIN_IMAGES}); run `{DOWNLOAD}`")


def read_idx(path, ndims):
    """The dimensions and values (uint8) of a gzipped IDX file of unsigned bytes."""
    if not path.is_file():
        raise DataError(f"{path}: file missing; run `{DOWNLOAD}`")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot decompress ({e}); run `{DOWNLOAD}` again") from None
    header = 4 + 4 * ndims
    if len(raw) < header or raw[:3] != b"\x00\x00\x08" or raw[3] != ndims:
        raise DataError(f"{path}: not an IDX file of bytes with {ndims} dimensions; "
                        f"run `{DOWNLOAD}` again")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims)]
    values = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if values.size != int(np.prod(dims)):
        raise DataError(f"{path}: the header says {dims} but {values.size} values follow; "
                        f"run `{DOWNLOAD}` again")
    return dims, values.reshape(dims)


def read_split(folder, images_file, labels_file):
    """One split's images as the crate's (n, 3, 32, 32) uint8 and its labels (n,) uint8."""
    dims, grey = read_idx(folder / images_file, 3)
    if dims[1:] != [SIDE, SIDE]:
        raise DataError(f"{folder / images_file}: photos of {dims[1]}x{dims[2]}, "
                        f"expected {SIDE}x{SIDE}")
    _, labels = read_idx(folder / labels_file, 1)
    if len(labels) != len(grey):
        raise DataError(f"{folder / labels_file}: {len(labels)} labels for {len(grey)} photos; "
                        f"run `{DOWNLOAD}` again")
    if labels.size and labels.max() >= len(CLASSES):
        raise DataError(f"{folder / labels_file}: a label above 9; run `{DOWNLOAD}` again")
    images = np.zeros((len(grey), 3, SIZE, SIZE), dtype=np.uint8)
    images[:, :, PAD:PAD + SIDE, PAD:PAD + SIDE] = grey[:, None, :, :]
    return images, labels.copy()


def per_class(labels, n):
    """Indices of the first `n` images of each class, in the order of the set."""
    keep = np.zeros(len(labels), dtype=bool)
    for c in range(len(CLASSES)):
        keep[np.flatnonzero(labels == c)[:n]] = True
    return np.flatnonzero(keep)


def default_val_size(n):
    """Validation images for a training set of `n`: 5,000, at most a tenth of the set."""
    return min(DEFAULT_VAL_SIZE, n // 10)


def normalization(images):
    """Per-channel (mean, std) of `pixel / 255` over `images`, as float32 arrays of 3."""
    count = max(len(images) * SIZE * SIZE, 1)
    mean, std = np.zeros(3, np.float32), np.ones(3, np.float32)
    for c in range(3):
        v = images[:, c].astype(np.float64) / 255.0
        m = v.sum() / count
        var = max((v * v).sum() / count - m * m, 0.0)
        mean[c] = np.float32(m)
        std[c] = np.float32(np.sqrt(var)) if var > 1e-12 else np.float32(1.0)
    return mean, std


def normalize(images, mean, std):
    """(n, 3, 32, 32) uint8 -> float32 `(pixel * (1/255) - mean[c]) * (1/std[c])`."""
    x = images.astype(np.float32) * np.float32(1.0 / 255.0)
    x -= mean.reshape(1, 3, 1, 1)
    x *= (np.float32(1.0) / std).reshape(1, 3, 1, 1)
    return x


def load(per_class_n, directory=None, val_size=None):
    """The crate's splits for `--per-class per_class_n`, as a dict.

    Keys: `train`, `val`, `test` (each a pair of normalised float32 images (n, 3, 32, 32)
    and int64 labels (n,)), `mean` and `std` (float32, from the training split), `folder`.
    Raises DataError (one line naming the folder or file) when the data is not there.
    """
    folder = locate(data_dir(directory))
    train_images, train_labels = read_split(folder, TRAIN_IMAGES, TRAIN_LABELS)
    test_images, test_labels = read_split(folder, TEST_IMAGES, TEST_LABELS)
    keep = per_class(train_labels, per_class_n)
    train_images, train_labels = train_images[keep], train_labels[keep]
    n = len(train_labels)
    val = default_val_size(n) if val_size is None else val_size
    if val >= n:
        raise DataError(f"validation size {val} leaves no training images (there are {n})")
    cut = n - val
    mean, std = normalization(train_images[:cut])

    def part(images, labels):
        return normalize(images, mean, std), labels.astype(np.int64)

    return {
        "train": part(train_images[:cut], train_labels[:cut]),
        "val": part(train_images[cut:], train_labels[cut:]),
        "test": part(test_images, test_labels),
        "mean": mean,
        "std": std,
        "folder": folder,
    }


if __name__ == "__main__":
    import sys
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    try:
        d = load(n)
    except DataError as e:
        sys.exit(f"fashion_mnist: error: {e}")
    print(f"{d['folder']}: {len(d['train'][1])} train / {len(d['val'][1])} validation / "
          f"{len(d['test'][1])} test images")
    print("mean", [f"{v:.8f}" for v in d["mean"]], "std", [f"{v:.8f}" for v in d["std"]])
    for name in ("train", "val", "test"):
        print(name, np.bincount(d[name][1], minlength=10).tolist())
