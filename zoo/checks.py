"""Checks of user input shared by the public API: each rule written once, each error
naming what was wrong and the fix (the project's principle 4)."""

from __future__ import annotations

import numpy as np


def binary_mask(mask, name: str = "mask") -> np.ndarray:
    """``mask`` (any shape) holding only 0 and 1 (or bool) -> a bool array.

    0/255 masks and any other values raise ``ValueError`` naming the values found and
    the conversion; non-numeric arrays raise ``TypeError``.
    """
    array = np.asarray(mask)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be a numeric or boolean array of 0 and 1, "
                        f"got dtype {array.dtype}")
    values = np.unique(array)
    if np.isin(values, (0, 1)).all():
        return array.astype(bool)
    if np.isin(values, (0, 255)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (binary mask) but holds 0/255: "
                         "pass mask // 255 (or mask > 0)")
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    raise ValueError(f"{name} must hold only 0 and 1 (binary mask); found {shown}: "
                     "threshold probabilities first (mask > 0.5) or use a label image's "
                     "foreground (labels > 0)")
