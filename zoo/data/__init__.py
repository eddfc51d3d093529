"""Data sets, generators and the paper's data tools."""

from .synthetic import synthetic_cells

__all__ = ["synthetic_cells"]
