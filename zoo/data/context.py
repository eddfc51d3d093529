"""2.5D context: serial sections z-k..z+k as the input channels of section z."""

from __future__ import annotations

import numpy as np


def with_context(stack, context: int = 1) -> np.ndarray:
    """Stack each section with its ``context`` neighbours on either side as channels.

    Args:
        stack: (N, H, W) or (N, H, W, C) consecutive serial sections.
        context: neighbours per side (1: z-1, z, z+1).

    Returns (N, H, W, C * (2 * context + 1)), channels ordered z-k .. z+k; beyond
    the ends of the stack the sections are mirrored (z = -1 reads z = 1), so a
    stack never borrows sections from outside itself: load the training and the
    validation slices as separate stacks and neither sees the other.
    """
    stack = np.asarray(stack)
    if stack.ndim == 3:
        stack = stack[..., None]
    if stack.ndim != 4:
        raise ValueError(f"with_context takes a stack (N, H, W[, C]), got shape {stack.shape}")
    if context < 0 or int(context) != context:
        raise ValueError(f"context must be a whole number >= 0, got {context}")
    n = len(stack)
    if n == 0 or context == 0:
        return stack
    index = np.arange(-context, n + context)
    period = 2 * (n - 1) if n > 1 else 1
    index = np.abs(index) % period if n > 1 else np.zeros_like(index)
    index = np.where(index > n - 1, period - index, index)
    return np.concatenate([stack[index[z:z + n]] for z in range(2 * context + 1)], axis=-1)
