"""K-fold splits by image, stratified by the classes each image holds.

Competition sets are small and their classes uneven: a plain split can leave a rare
class out of a fold's validation images. :func:`stratified_folds` is iterative
stratification (Sechidis, Tsoumakas, Vlahavas, ECML PKDD 2011, Algorithm 1) for
images that hold several classes at once: the rarest class still to place goes
first, each of its images to the fold that most lacks it (then the fold that most
lacks the image's classes together, then images, then the lowest-numbered), so every
class spreads over the folds as evenly as whole images allow; images that hold no class
fill the folds that lack images most. Deterministic: the same images give the same
folds on every machine.
"""

from __future__ import annotations

import numpy as np


def image_classes(masks, num_classes: int) -> list[frozenset]:
    """The classes each (H, W) mask holds that stratify: the foreground classes
    (1..N-1; background, which nearly every image holds, is left out), or for a
    binary mask (``num_classes`` 1) whether it holds any foreground."""
    found = []
    for mask in masks:
        present = np.unique(np.asarray(mask))
        found.append(frozenset(int(c) for c in present if c > 0) if num_classes > 1
                     else frozenset({1}) if present.max(initial=0) > 0 else frozenset())
    return found


def stratified_folds(classes: list[frozenset], k: int) -> np.ndarray:
    """(n,) fold ids in 0..k-1 for images holding ``classes`` (one set per image).

    Each fold gets n/k images (+-1) and, as nearly as whole images allow, a k-th of
    the images of every class.
    """
    n = len(classes)
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ValueError(f"folds must be an integer >= 2, got {k!r}")
    if n < k:
        raise ValueError(f"{k} folds need at least {k} annotated images; the data holds {n}")
    fold = np.full(n, -1)
    wanted = np.full(k, n / k)  # images each fold still lacks
    labels = sorted({c for held in classes for c in held})
    lacking = {c: np.full(k, sum(c in held for held in classes) / k) for c in labels}
    left = set(range(n))
    while left:
        counts = {c: sum(c in classes[i] for i in left) for c in labels}
        counts = {c: m for c, m in counts.items() if m}
        if not counts:  # images without any class
            for i in sorted(left):
                fold[i] = _pick(wanted, wanted)
                wanted[fold[i]] -= 1
            break
        rarest = min(counts, key=lambda c: (counts[c], c))
        for i in sorted(i for i in left if rarest in classes[i]):
            fold[i] = _pick(lacking[rarest], wanted,
                            sum(lacking[c] for c in classes[i]))
            wanted[fold[i]] -= 1
            for c in classes[i]:
                lacking[c][fold[i]] -= 1
            left.discard(i)
    return fold


def _pick(need: np.ndarray, wanted: np.ndarray, others=None) -> int:
    """The fold that most needs it (then most needs all the image's classes), then the
    one lacking most images, then the first."""
    others = need if others is None else others
    return int(min(range(len(need)), key=lambda j: (-need[j], -others[j], -wanted[j], j)))


def fold_split(fold: np.ndarray, i: int) -> tuple[list[int], list[int]]:
    """(training indices, validation indices) of fold ``i``: fold i validates."""
    if not 0 <= i < fold.max() + 1:
        raise ValueError(f"fold {i} is not one of 0..{int(fold.max())}")
    return ([int(j) for j in np.flatnonzero(fold != i)],
            [int(j) for j in np.flatnonzero(fold == i)])
