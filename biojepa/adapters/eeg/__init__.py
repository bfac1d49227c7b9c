"""The EEG adapter: S-JEPA-style models on multichannel scalp EEG.

Parts: ``positions`` (electrode names, standard-montage lookup, unit-head normalisation of xyz positions) and
``readers`` (EDF/BDF/GDF/BrainVision/EEGLAB/FIF files, ``mne.io.Raw`` / ``mne.Epochs`` objects, arrays with
braindecode-style ``chs_info`` and eeg-notebooks Muse CSVs -> :class:`~biojepa.data.record.Record` in µV).

Importing this package is cheap: MNE (the ``eeg`` extra) is imported only inside the functions that need it.
"""
