"""Synthetic scenes for the spatial tests: masks drawn on a small canvas, scores chosen."""

import numpy as np

HEIGHT, WIDTH = 120, 200


def rect(x0: int, y0: int, x1: int, y1: int, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def disc(u: float, v: float, radius: float, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return (cols - u) ** 2 + (rows - v) ** 2 <= radius ** 2


def row_of_cups(count: int = 4, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    """Equal cups side by side, left to right, with a cup's width between them."""
    width = shape[1] // (2 * count + 1)
    top = shape[0] // 2 - width // 2
    return np.stack([rect(width * (2 * i + 1), top, width * (2 * i + 2), top + width, shape)
                     for i in range(count)])
