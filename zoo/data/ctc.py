"""Cell Tracking Challenge 2D layout (PhC-C2DH-U373, DIC-C2DH-HeLa; Ulman et al. 2017).

    DATASET/01/t000.tif ...               raw frames
    DATASET/01_GT/SEG/man_seg000.tif ...  instance labels of annotated frames

Only frames with a segmentation annotation are loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .io import read_pages, with_channel
from .weight_map import unet_weight_map


@dataclass
class CTCData:
    """images (N, H, W, 1) float32 in [0, 1] (min-max scaled per frame),
    labels (N, H, W) int32 instances, masks (N, H, W) uint8, frames (time indices)."""

    images: np.ndarray
    labels: np.ndarray
    frames: list[int]

    @property
    def masks(self) -> np.ndarray:
        return (self.labels > 0).astype(np.uint8)

    def weight_maps(self, **kwargs) -> np.ndarray:
        """U-Net weight maps (N, H, W) of the instance labels (see ``unet_weight_map``)."""
        return unet_weight_map(self.labels, **kwargs)


def load_ctc(root, sequence: str = "01") -> CTCData:
    """Load the annotated frames of one sequence of a CTC 2D data set."""
    root = Path(root)
    frames_dir, seg_dir = root / sequence, root / f"{sequence}_GT" / "SEG"
    for folder in (frames_dir, seg_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} not found: a Cell Tracking Challenge set has {sequence}/tNNN.tif "
                f"frames and {sequence}_GT/SEG/man_segNNN.tif annotations"
            )
    pairs = []
    for seg in sorted(seg_dir.glob("man_seg*.tif")):
        match = re.fullmatch(r"man_seg(\d+)\.tif", seg.name)
        if not match:
            continue  # 3D annotations of 2D sets (man_seg_T_Z.tif) are not used
        frame = frames_dir / f"t{match.group(1)}.tif"
        if not frame.is_file():
            raise FileNotFoundError(f"{seg.name} has no frame {frame}")
        pairs.append((int(match.group(1)), frame, seg))
    if not pairs:
        raise FileNotFoundError(f"no man_segNNN.tif annotations in {seg_dir}")
    images = np.stack([_scale(read_pages(f)[0]) for _, f, _ in pairs])
    labels = np.stack([read_pages(s, palette="indices")[0].astype(np.int32)
                       for _, _, s in pairs])
    return CTCData(with_channel(images), labels, [t for t, _, _ in pairs])


def _scale(frame: np.ndarray) -> np.ndarray:
    """A frame min-max scaled to [0, 1] (CTC frames use a fraction of their dtype)."""
    frame = frame.astype(np.float32)
    lo, hi = float(frame.min()), float(frame.max())
    return (frame - lo) / (hi - lo) if hi > lo else np.zeros_like(frame)
