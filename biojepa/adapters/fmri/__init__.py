"""The fMRI adapter: Brain-JEPA-style models on parcellated (ROI x time) BOLD signals.

Parts: ``gradients`` (biojepa's own numpy/scipy diffusion-map builder of the functional-connectivity gradients
that position ROIs, research note fmri.md §4.3).

Importing this package is cheap: it imports none of its submodules.
"""
