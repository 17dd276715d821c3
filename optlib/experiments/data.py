"""Data sets for the book's experiments, as NumPy arrays.

:func:`load` returns ``(x_train, y_train, x_test, y_test)``: inputs are ``float32``, labels are
``int64`` class indices (what :class:`torch.nn.CrossEntropyLoss` and Keras's
``sparse_categorical_crossentropy`` take).  Images are channels-first, ``(N, C, H, W)``, scaled
to ``[0, 1]``; :func:`channels_last` turns them into Keras's ``(N, H, W, C)``.

=================  =====================================================================
``iris``           scikit-learn's 150 flowers, 4 raw features (cm, not standardised, as in
                   the course notes); a stratified split with ``seed`` (default 0): 120
                   train, 30 test (the notes' 120/30 proportions).
``digits``         scikit-learn's 1,797 8x8 digits, ``(N, 1, 8, 8)``, pixel values / 16;
                   a stratified split with ``seed``: 1,437 train, 360 test (20 %).
``fashion_mnist``  Zalando's 60,000 + 10,000 28x28 images, ``(N, 1, 28, 28)`` / 255, the
                   published train/test split.  Read from the first directory that holds
                   the four idx ``.gz`` files: ``data_dir`` (or ``$OPTLIB_FASHION_MNIST_DIR``)
                   alone when given; otherwise ``/usr/share/datasets/fashion-mnist/`` (Debian's
                   ``dataset-fashion-mnist``), then Keras's cache
                   (``$KERAS_HOME`` or ``~/.keras``, ``datasets/fashion-mnist``), then a
                   download into Keras's cache, checked against the MD5 sums Zalando publishes.
``mnist``          ``keras.datasets.mnist`` (downloads on first use), ``(N, 1, 28, 28)`` / 255.
``cifar10``        ``keras.datasets.cifar10`` (downloads on first use), ``(N, 3, 32, 32)`` / 255.
=================  =====================================================================

A validation set is carved from the training set by :func:`train_val_split` (stratified,
seeded); the test set is never used to choose anything.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

__all__ = ["load", "names", "read_idx", "train_val_split", "channels_last", "subset",
           "FASHION_FILES", "FASHION_MD5", "DEBIAN_FASHION_DIR", "FashionMNISTNotFound"]

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# MD5 of the .gz files as published in zalandoresearch/fashion-mnist's README.  Debian's
# package recompresses the files (other .gz bytes), so only downloads are checked against
# these; every source is checked for image shape and label range.
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"  # Keras's mirror
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FashionMNISTNotFound(FileNotFoundError):
    """Fashion-MNIST is in none of the places :func:`load` looks, and could not be downloaded."""


def names():
    """The data sets :func:`load` knows."""
    return ("iris", "digits", "fashion_mnist", "mnist", "cifar10")


def load(name, *, seed=0, data_dir=None, download=True):
    """``(x_train, y_train, x_test, y_test)`` of data set ``name`` (see the module docstring).

    ``seed`` fixes the stratified train/test split of ``iris`` and ``digits`` (the other data
    sets have a published split).  ``data_dir`` and ``download`` concern ``fashion_mnist``.
    """
    if name == "iris":
        from sklearn.datasets import load_iris

        d = load_iris()
        return _stratified(d.data.astype(np.float32), d.target, test_size=30, seed=seed)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[:, None]
        return _stratified(x, d.target, test_size=360, seed=seed)
    if name == "fashion_mnist":
        return load_fashion_mnist(data_dir=data_dir, download=download)
    if name in ("mnist", "cifar10"):
        return _keras_dataset(name)
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(names())}")


def _stratified(x, y, test_size, seed):
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y.astype(np.int64), test_size=test_size,
                                          stratify=y, random_state=seed)
    return xtr, ytr, xte, yte


def train_val_split(x, y, val_size, seed=0):
    """Carve a stratified validation set of ``val_size`` examples (an int, or a fraction) from
    a training set: returns ``(x_train, y_train, x_val, y_val)``."""
    return _stratified(x, y, test_size=val_size, seed=seed)


def subset(x, y, n, seed=0):
    """A stratified subset of ``n`` examples (for budgets that cannot afford the whole set)."""
    if n is None or n >= len(y):
        return x, y
    _, _, xs, ys = _stratified(x, y, test_size=n, seed=seed)
    return xs, ys


def channels_last(x):
    """``(N, C, H, W)`` -> ``(N, H, W, C)``, Keras's layout (a contiguous copy)."""
    return np.ascontiguousarray(np.moveaxis(x, 1, -1))


# ---------------------------------------------------------------------------------------
# idx files (LeCun's MNIST format, also Fashion-MNIST's)

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an idx file (``.gz`` or plain) into a NumPy array of its shape and type.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, one big-endian uint32 per dimension,
    then the data, big-endian, row-major.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an idx file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown idx type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: expected {count * dtype.itemsize} data bytes for shape {shape}, "
                         f"found {len(raw) - header}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _keras_cache_dir():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def fashion_mnist_dirs(data_dir=None):
    """The directories :func:`load_fashion_mnist` reads from, in order."""
    data_dir = data_dir or os.environ.get("OPTLIB_FASHION_MNIST_DIR")
    if data_dir:
        return [Path(data_dir)]
    return [DEBIAN_FASHION_DIR, _keras_cache_dir()]


def _md5(path):
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_fashion(target, timeout=30):
    """Download the four files into ``target``, each checked against its published MD5 and
    moved into place only when it matches."""
    target.mkdir(parents=True, exist_ok=True)
    for fname, md5 in FASHION_MD5.items():
        dest = target / fname
        if dest.exists() and _md5(dest) == md5:
            continue
        fd, tmp = tempfile.mkstemp(dir=target, prefix=fname + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(FASHION_URL + fname, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
            got = _md5(tmp)
            if got != md5:
                raise OSError(f"{fname}: MD5 {got} does not match the published {md5}")
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def _read_fashion_dir(d):
    arrays = {k: read_idx(d / f) for k, f in FASHION_FILES.items()}
    for part in ("train", "test"):
        x, y = arrays["x_" + part], arrays["y_" + part]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],) or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{d}: {part} images {x.shape} and labels {y.shape} are not Fashion-MNIST's "
                             "(N x 28 x 28 images, N labels in 0..9)")
    return tuple(
        (arrays[k].astype(np.float32)[:, None] / np.float32(255.0)) if k.startswith("x")
        else arrays[k].astype(np.int64)
        for k in ("x_train", "y_train", "x_test", "y_test")
    )


_cache = {}


def load_fashion_mnist(data_dir=None, download=True):
    """Fashion-MNIST as ``(x_train, y_train, x_test, y_test)``; see the module docstring for
    where it is looked for.  Raises :class:`FashionMNISTNotFound`, saying how to get it, when
    it is nowhere and cannot be downloaded."""
    dirs = fashion_mnist_dirs(data_dir)
    for d in dirs:
        if all((d / f).is_file() for f in FASHION_FILES.values()):
            key = str(d.resolve())
            if key not in _cache:
                _cache[key] = _read_fashion_dir(d)
            return _cache[key]
    error = None
    if download:
        target = dirs[0] if (data_dir or os.environ.get("OPTLIB_FASHION_MNIST_DIR")) else _keras_cache_dir()
        try:
            _download_fashion(target)
            return load_fashion_mnist(data_dir=target, download=False)
        except Exception as e:  # no network, a proxy, a bad checksum: all end in the error below
            error = e
    looked = ", ".join(str(d) for d in dirs)
    msg = (f"Fashion-MNIST not found (looked in: {looked}; each needs the four files "
           f"{', '.join(FASHION_FILES.values())}). "
           "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; it puts "
           f"the files in {DEBIAN_FASHION_DIR}), or point OPTLIB_FASHION_MNIST_DIR at a directory "
           "that holds them.")
    if download:
        msg += f" Downloading it failed: {error}"
    raise FashionMNISTNotFound(msg)


def _keras_dataset(name):
    import keras

    module = getattr(keras.datasets, name)
    (xtr, ytr), (xte, yte) = module.load_data()

    def images(x):
        x = x.astype(np.float32) / np.float32(255.0)
        return x[:, None] if x.ndim == 3 else np.ascontiguousarray(np.moveaxis(x, -1, 1))

    return images(xtr), ytr.reshape(-1).astype(np.int64), images(xte), yte.reshape(-1).astype(np.int64)
