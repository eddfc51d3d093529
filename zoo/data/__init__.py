"""Data sets, generators and the paper's data tools."""

from .augment import CoarseGridElastic, paper_augmentation
from .context import with_context
from .ctc import CTCData, load_ctc
from .dataset import SegmentationDataset
from .folders import load_folder
from .isbi2012 import ISBI2012, load_isbi2012
from .synthetic import synthetic_cells
from .weight_map import unet_weight_map

__all__ = ["CTCData", "CoarseGridElastic", "ISBI2012", "SegmentationDataset", "load_ctc",
           "load_folder", "load_isbi2012", "paper_augmentation", "synthetic_cells",
           "unet_weight_map", "with_context"]
