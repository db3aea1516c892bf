"""A labelled image dataset from a folder tree: one subfolder per class.

    PATH/
      cat/0001.png 0002.jpg ...
      dog/0001.png ...

Classes are the subfolders, sorted by name (label 0 is the first). Examples
are ordered by their path inside their class folder, then by class, so files
numbered across classes (`0/00003.png`, `1/00002.png`, ...) keep their
numbering's order: a folder written from an array reads back as that array.
Images are grey when every file is grey, else RGB; all must have one size
unless `image_size` resizes them (square). Hidden files are skipped; any
other file that is not a readable image stops the load with its name.
"""

import os
from typing import Tuple

import numpy as np

from keras_cgan.errors import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def list_files(root: str):
    """The class names and `(class id, path)` of every image, in dataset order.

    Raises:
        DataError: no such folder, no class subfolders, an empty class folder,
            or a file that is not an image (by its extension).
    """
    if not os.path.isdir(root):
        raise DataError(
            f"dataset folder not found: {root} (--dataset=folder:PATH needs one subfolder per class)"
        )
    classes = [n for n in _visible(os.listdir(root)) if os.path.isdir(os.path.join(root, n))]
    if not classes:
        raise DataError(
            f"dataset folder {root} has no class subfolders: put each class's images in "
            "PATH/CLASS_NAME/"
        )
    entries = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        found = 0
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = _visible(dirnames)
            for file_name in _visible(filenames):
                path = os.path.join(dirpath, file_name)
                if not file_name.lower().endswith(IMAGE_EXTENSIONS):
                    raise DataError(
                        f"{path} is not an image ({', '.join(IMAGE_EXTENSIONS)}): remove it "
                        "from the dataset folder"
                    )
                entries.append((os.path.relpath(path, folder), label, path))
                found += 1
        if not found:
            raise DataError(f"class folder {folder} holds no images: add some or remove the folder")
    entries.sort(key=lambda e: (e[0], e[1]))
    return tuple(classes), [(label, path) for _, label, path in entries]


def read_folder(root: str, image_size: int = 0) -> Tuple[np.ndarray, np.ndarray, tuple]:
    """Reads every image of a class-folder tree into memory.

    Args:
        root: The folder of class subfolders.
        image_size: Resize every image to `image_size x image_size` (0: keep
            the size, which must then be the same for all).

    Returns:
        `(images, labels, class_names)`: uint8 `[N, H, W, C]` (C = 1 if every
        image is grey, else 3), labels `[N]` (uint8 up to 256 classes, else
        int32) and the class names.

    Raises:
        DataError: see `list_files`; also an unreadable image, or images of
            different sizes without `image_size`.
    """
    from PIL import Image

    class_names, files = list_files(root)
    headers = []  # (mode, size): a first pass reads only the files' headers.
    for _, path in files:
        try:
            with Image.open(path) as img:
                headers.append((img.mode, img.size))
        except Exception as e:  # PIL raises many types for a bad file.
            raise _unreadable(path, e) from None
    grey = all(m in _GREY_MODES for m, _ in headers)
    mode = "L" if grey else "RGB"
    if not image_size:
        sizes = {}
        for (_, path), (_, size) in zip(files, headers, strict=True):
            sizes.setdefault(size, path)
        if len(sizes) > 1:
            (a, path_a), (b, path_b) = list(sizes.items())[:2]
            raise DataError(
                f"images in {root} have different sizes ({a[0]}x{a[1]} {path_a}, {b[0]}x{b[1]} "
                f"{path_b}): pass --image_size=N to resize them to NxN"
            )
    arrays = []
    for _, path in files:
        try:
            with Image.open(path) as img:
                p = img.convert(mode) if img.mode != mode else img
                if image_size and p.size != (image_size, image_size):
                    p = p.resize((image_size, image_size), Image.BICUBIC, reducing_gap=3.0)
                arrays.append(np.asarray(p, np.uint8))
        except Exception as e:
            raise _unreadable(path, e) from None
    images = np.stack(arrays)
    if grey:
        images = images[..., None]
    dtype = np.uint8 if len(class_names) <= 256 else np.int32
    labels = np.asarray([label for label, _ in files], dtype)
    return images, labels, class_names


def _unreadable(path, error):
    return DataError(f"cannot read image {path} ({type(error).__name__}): remove or replace it")
