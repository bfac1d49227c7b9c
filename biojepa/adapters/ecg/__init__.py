"""The ECG adapter: ECG-JEPA (Weimann & Conrad 2024) on 12-lead ECG.

Parts: ``leads`` (lead names), ``readers`` (WFDB, CinC .hea/.mat, CODE-15% HDF5), ``transforms``
(resample, filter, normalise), ``datasets`` (dataset sources registered in ``DATASETS``), ``models``
(``ecg_vit_*`` registered in ``MODELS``), ``tasks`` (PTB-XL label sets and evaluation), ``features``
(handcrafted baseline), ``synthetic`` (the embedded 12-lead demo corpus).

Importing this package is cheap; the registries import the submodules on first lookup.
"""
