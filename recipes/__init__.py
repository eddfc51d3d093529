"""Training recipes, each a thin command line over the public API; run from the repository root:

    python -m recipes.isbi2012 --help         # ISBI 2012, same-padding models, any encoder
    python -m recipes.isbi2012_paper --help   # ISBI 2012 as Ronneberger et al. 2015 trained it
    python -m recipes.ctc --help              # a Cell Tracking Challenge 2D set
"""
