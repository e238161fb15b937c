"""The CPU-bound tasks of ``parlearn bench cpu``: resizing images and a pure-Python loop.

Two kinds of CPU work that behave differently under threads, which is the point:

- :func:`resize_image` spends its time in Pillow's C code (decode, resample, encode), which
  releases the GIL: threads run it on several cores at once.
- :func:`numeric_loop` is Python bytecode, which holds the GIL: threads take turns, and only
  processes (one interpreter each) use more cores.

Both are deterministic, so every concurrency model must return exactly the same results.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "find_images",
    "generate_images",
    "iterations_for",
    "numeric_loop",
    "resize_image",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def numeric_loop(task: tuple[int, int] | list[int]) -> int:
    """``iterations`` steps of a linear congruential generator from ``seed``: pure Python."""
    seed, iterations = task
    x = seed
    for _ in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def iterations_for(seconds: float) -> int:
    """How many :func:`numeric_loop` iterations take about ``seconds`` here."""
    if not seconds > 0:
        raise ValueError(f"seconds must be > 0, got {seconds!r}")
    n = 10_000
    while True:
        started = time.perf_counter()
        numeric_loop((1, n))
        took = time.perf_counter() - started
        # Long enough that timer resolution and a stray context switch do not skew the rate.
        if took >= 0.05:
            return max(1, round(n * seconds / took))
        n *= 4


def resize_image(path: str, scale: float = 0.25) -> tuple[str, int, int, str]:
    """Decode an image, resample it by ``scale`` (Lanczos) and encode it as JPEG in memory.

    Returns the file name, the new size and a digest of the encoded bytes."""
    file = Path(path)
    try:
        with Image.open(file) as image:
            rgb = image.convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"image not found: {file}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read {file} as an image: {exc}") from None
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    small = rgb.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85)
    digest = hashlib.blake2b(buffer.getvalue(), digest_size=8).hexdigest()
    return file.name, size[0], size[1], digest


def generate_images(
    folder: str | os.PathLike[str], count: int, size: tuple[int, int] = (1600, 1200), seed: int = 0
) -> list[Path]:
    """Write ``count`` JPEG photos-to-be (gradients with noise, so they compress like photos)
    of ``size`` (width, height) into ``folder``; returns their paths."""
    width, height = size
    if count < 1 or width < 1 or height < 1:
        raise ValueError(f"need count >= 1 and a size of at least 1x1, got {count}, {size}")
    rng = np.random.default_rng(seed)
    base = np.empty((height, width, 3), dtype=np.uint8)
    base[..., 0] = np.linspace(0, 255, width, dtype=np.float32).astype(np.uint8)[None, :]
    base[..., 1] = np.linspace(0, 255, height, dtype=np.float32).astype(np.uint8)[:, None]
    base[..., 2] = 128
    noise = rng.integers(0, 48, size=(height, width, 3), dtype=np.uint8)
    paths = []
    for index in range(count):
        # Shifting the noise makes each image different at the cost of a copy.
        pixels = base ^ np.roll(noise, shift=index * 7919, axis=None).reshape(noise.shape)
        path = Path(folder) / f"image_{index:04d}.jpg"
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def find_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly in ``folder`` (by suffix), sorted by name."""
    directory = Path(folder)
    if not directory.is_dir():
        raise NotADirectoryError(f"--images must be a folder of images, got {directory}")
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not found:
        raise ValueError(
            f"no images in {directory}; looked for files ending in {', '.join(IMAGE_SUFFIXES)}"
        )
    return found
