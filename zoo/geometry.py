"""Input/output size rules for same- and valid-padding models, with helpful errors."""

from __future__ import annotations

import math

from . import checks

CONVS_PER_LEVEL = 2  # two unpadded 3x3 convs per level, each trimming 2 px (U-Net, Sec. 2)
TRIM = 2 * CONVS_PER_LEVEL


def unet_output_size(input_size: int, depth: int = 4) -> int:
    """Output side of the valid-padding U-Net for an input side; 572 -> 388 at depth 4.

    Raises ``ValueError`` naming the nearest legal sizes (188 + 16k at depth 4,
    Ronneberger et al. 2015, Sec. 2: every 2x2 pooling must see an even size).
    """
    _check_depth(depth)
    size = _forward(input_size, depth)
    if size is None:
        low, high = nearest_valid_input_sizes(input_size, depth)
        raise ValueError(
            f"input size {input_size} is illegal for the valid-padding U-Net of depth {depth}: "
            f"legal sizes are {_legal_form(depth)}; the nearest: {_either(low, high)} "
            f"(use zoo.unet_input_size(output_size) to pick one for a target output)"
        )
    return size


def unet_input_size(output_size: int, depth: int = 4) -> int:
    """Input side the valid-padding U-Net needs for ``output_size``; 388 -> 572 at depth 4."""
    _check_depth(depth)
    size = output_size
    for _ in range(depth):
        size += TRIM
        if size % 2:
            return _raise_bad_output(output_size, depth)
        size //= 2
    size += TRIM  # bottleneck convs
    for _ in range(depth):
        size = 2 * size + TRIM
    if output_size < 1 or _forward(size, depth) != output_size:
        return _raise_bad_output(output_size, depth)
    return size


def _check_depth(depth) -> None:
    checks.integer(depth, "depth", 0, " (the number of poolings)")


def nearest_valid_input_sizes(size: int, depth: int = 4) -> tuple[int, int]:
    """Largest legal valid-padding input <= ``size`` (or the smallest legal) and smallest >= it."""
    first = _smallest_valid_input(depth)
    step = 2**depth
    k = max(0, (size - first) // step)
    low = first + k * step
    high = low if low >= size else low + step
    return low, high


def check_same_padding_size(side: int | None, depth: int, axis: str) -> None:
    """Same-padding models need sides divisible by 2**depth (or ``None``)."""
    divisor = 2**depth
    if side is not None and side % divisor:
        padded = math.ceil(side / divisor) * divisor
        raise ValueError(
            f"input {axis} {side} is not divisible by {divisor} (2**depth with depth={depth}); "
            f"pad the image to {padded}, crop it to {side - side % divisor or divisor}, "
            f"or use None for a variable size"
        )


def _forward(size: int, depth: int) -> int | None:
    for _ in range(depth):
        size -= TRIM
        if size < 2 or size % 2:
            return None
        size //= 2
    size -= TRIM
    if size < 1:
        return None
    for _ in range(depth):
        size = 2 * size - TRIM
        if size < 1:
            return None
    return size


def _either(low: int, high: int) -> str:
    return str(low) if low == high else f"{low} or {high}"


def _smallest_valid_input(depth: int) -> int:
    """188 at depth 4, without a search: the smallest bottleneck input b whose up path
    never shrinks to 0 (5 at depth 0, 7 at depth 1, else 8, since u -> 2u - 4 stays >= 4
    only from 4), taken back through the encoder, s -> 2s + 4, ``depth`` times."""
    bottleneck = 5 if depth == 0 else 7 if depth == 1 else 8
    return 2**depth * bottleneck + TRIM * (2**depth - 1)


def _legal_form(depth: int) -> str:
    return f"{_smallest_valid_input(depth)} + {2**depth}k"


def _raise_bad_output(output_size: int, depth: int) -> int:
    first = _forward(_smallest_valid_input(depth), depth)
    raise ValueError(
        f"output size {output_size} is not reachable by the valid-padding U-Net of depth "
        f"{depth}: legal outputs are {first} + {2**depth}k"
    )
