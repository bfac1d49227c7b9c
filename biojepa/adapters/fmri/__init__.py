"""The fMRI adapter: Brain-JEPA on parcellated (ROI x time) BOLD signals (docs/fmri.md).

Parts:

* ``readers``: ROI matrices (numpy, CSV/TSV, AFNI ``.1D``, DPABI ``.mat``) and 4-D NIfTI + labels atlas
  (nilearn) -> ROI x time records; the orientation is never guessed.
* ``rois``: ROI tables (AAL-116, generic names) and the ROI-order hash of a model's contract.
* ``transforms``: TR resampling, demeaning, robust population scaling, per-ROI z-score, crops and padding.
* ``connectivity``: Pearson / Fisher-z connectivity, its upper triangle, the group average.
* ``gradients``: biojepa's own numpy/scipy diffusion-map builder of the connectivity gradients that position
  ROIs (research note fmri.md §4.3); ``group``: ``biojepa fmri gradients``.
* ``tokenizer``: ROI x patch tokens with a gradient / xyz / learned / no ROI position; ``models``: the
  ``fmri_vit_{tiny,s,b,l}`` specs.
* ``datasets``: the ``abide_roi``, ``roi_dir`` and ``fmri_synthetic`` sources (``synthetic``: the generator).
* ``conform``: fMRI inputs of ``biojepa.encode()``; ``fmri_eval``: ``biojepa finetune fmri``, with
  ``features`` (the per-fold normalisation / ROI-table contract and the pooled encoder features) and ``probes``
  (its linear, sklearn and fine-tuning probes).

Importing this package is cheap: it imports none of its submodules.
"""
