"""``biojepa finetune fmri``: phenotype prediction from ROI time series (the Brain-JEPA downstream protocol).

Protocol (research note fmri.md §1.7 and §6.7). Per seed and fold:

1. **Records** are read at the model's TR with its ROIs in its order
   (:func:`~biojepa.adapters.fmri.datasets.load_fmri_records`: resampled, each ROI's mean removed). Subjects
   without a label, above ``max_mean_fd`` (mean framewise displacement) or shorter than one token are excluded,
   each with its reason in the JSON.
2. **One normalisation contract** (Brain-JEPA issue #14): a model's stored normalisation statistics and ROI
   gradient table are used as they are; what a model lacks (``random:<name>``, ``roi_table: "auto"``) is fitted
   on the *training fold's* records. Nothing is ever fitted on a test subject
   (:func:`~biojepa.adapters.fmri.features.fold_contract`).
3. **Features**: deterministic crops of the model window (``crops``), only the tokens of a record's real frames
   encoded, mean-pooled over tokens, then windows (:func:`~biojepa.adapters.fmri.features.embed_records`).
   ``fd_covariate`` appends the subject's mean FD (standardised with the training fold's statistics) to every
   variant's features.
4. **Probe** (``mode``; :mod:`~biojepa.adapters.fmri.probes` has the details):

   * ``linear``: the MAE / Brain-JEPA linear probe, ``BatchNorm1d(affine=False)`` -> ``Linear``, on the
     features;
   * ``sklearn``: ``StandardScaler`` + ``LogisticRegression`` (classification) / ``Ridge`` (regression), ``C`` /
     ``alpha`` chosen by ``inner_folds``-fold cross-validation on the training fold;
   * ``finetune``: the encoder plus Brain-JEPA's head (mean-pool -> ``LayerNorm`` -> ``Linear``) trained on
     random crops of the training records; test logits are averaged over the deterministic crops.

Rows of the result (DESIGN.md §5), each over the same folds:

* ``pretrained``: the probe on the given model (one ``--model`` per seed, or one for all seeds);
* ``random_init``: the same probe on a seeded random encoder of the same architecture and contract (seed
  ``10_000 + seed``); statistics / gradient table it lacks are fitted on the training fold, as above;
* ``connectivity``: the classical baseline, Fisher-z FC of the whole record (no crop) +
  ``StandardScaler`` + ``LogisticRegression`` / ``Ridge`` with ``C`` / ``alpha`` by inner cross-validation;
* ``chance``: the training fold's majority class (class frequencies as scores) or the training mean; its ROC-AUC
  is 0.5 and its Pearson r 0 by definition.

Metrics: ``accuracy``, ``f1_macro`` and (two classes) ``roc_auc`` of the positive class (the second of the
sorted class values, e.g. ASD for ``dx``) for classification; ``mse`` and ``pearson_r`` for regression. ``value``
is the mean over seeds of the metric on all tested subjects pooled across folds (each tested exactly once per
seed); ``per_fold`` the per-fold values (mean over seeds, undefined ones left out); ``ci95`` a percentile
bootstrap over subjects of the seed-averaged predictions. Accuracy rows carry ``chance_bound``, the binomial
95 % bound for ``n_test`` subjects at the majority rate of the tested labels.

Splits: ``leave_site_out`` (each site, or each of ``test_sites``, is the test fold once; for classification a
fold whose test site or training part holds a single class is skipped, with the reason recorded: ABIDE's OHSU is
ASD-only) or ``kfold`` (``folds`` folds of whole subjects, stratified by the label for classification and by
site for regression, reshuffled per seed). **Leakage check**: when a pretrained model's ``config.json`` lists
the subjects it was pretrained on (``training.datasets.<id>.provenance.subjects_used``) and any of them is in a
test fold, :class:`~biojepa.errors.ConfigError` names them (``allow_overlap=True`` runs anyway, logs a warning
and records ``overlap`` in the JSON). Everything is deterministic given the seeds.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biojepa.adapters.fmri.features import CROPS, FoldContract, embed_records, fold_contract
from biojepa.adapters.fmri.probes import ALPHA_GRID, C_GRID, _finetune_fold, _linear_probe, _sklearn_probe
from biojepa.errors import ConfigError, ContractError, UndefinedMetricError

__all__ = [
    "BASELINES",
    "CROPS",
    "MODES",
    "SPLITS",
    "TASKS",
    "FmriEvalConfig",
    "FoldContract",
    "embed_records",
    "fold_contract",
    "run_fmri_eval",
]

log = logging.getLogger(__name__)

#: task name -> (participants column, kind)
TASKS: dict[str, tuple[str, str]] = {
    "dx": ("dx_asd", "classification"),
    "sex": ("sex", "classification"),
    "age": ("age", "regression"),
    "site": ("site", "classification"),
    "label": ("label", "classification"),
}
SPLITS = ("leave_site_out", "kfold")
MODES = ("linear", "sklearn", "finetune")
#: variants that ``baselines`` may add besides ``pretrained`` and ``chance``
BASELINES = ("connectivity", "random_init")
_KINDS = ("classification", "regression")
#: seed offset of the random-init encoders (as ``biojepa finetune bci``)
RANDOM_INIT_SEED = 10_000


# ---------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------
@dataclass
class FmriEvalConfig:
    """What ``biojepa finetune fmri`` runs.

    Attributes:
        task: ``dx`` (``dx_asd``, ASD vs control), ``sex``, ``age`` (regression), ``site`` (multi-class; the
            positive control, needs ``split="kfold"``), ``label`` (``fmri_synthetic``'s planted class), or any
            other column of the participants table together with ``task_kind``.
        data: ``abide_roi=DIR`` (or another ``ID=DIR`` fMRI source with a labelled table) or ``fmri_synthetic``.
        models: model directories or ``random:<registered name>``; one per seed or one for all seeds. Random
            models define the contract (TR, ROIs, window) and the architecture of ``random_init``; a
            ``pretrained`` row is produced for model directories only, and with ``random:`` models the
            ``random_init`` row is always produced (it is the model under evaluation).
        task_kind: ``classification`` | ``regression``; required for a column not in :data:`TASKS`.
        split: ``leave_site_out`` | ``kfold``.
        test_sites: leave-site-out only: the sites used as test folds (default: every site).
        folds: k of ``kfold``.
        seeds: number of seeds (0..N-1): probe / fine-tuning initialisation, shuffles, k-fold partition.
        mode: ``linear`` | ``sklearn`` | ``finetune`` (see the module docstring).
        baselines: comma-separated subset of ``connectivity,random_init`` (empty: none); ``chance`` is always
            reported.
        crops: ``multi`` (every window at stride ``window // 2``, embeddings averaged) | ``center``.
        max_mean_fd: exclude subjects whose mean framewise displacement (mm; the table's ``mean_fd`` /
            ``func_mean_fd``) is above this or unknown.
        fd_covariate: append the subject's mean FD, standardised with the training fold's mean / std, to every
            variant's features (connectivity included).
        params: extra data parameters (e.g. ``{"sites": ["PITT", "OLIN"]}``, ``{"n_records": 64}``).
        allow_overlap: run even when the pretrained model saw test subjects (recorded as ``overlap``).
        model_overrides: deep-merged into the spec of ``random:<name>`` models (e.g. ``{"encoder": {"depth": 1}}``).
        device: ``cpu`` or ``cuda``.
        cache_dir: where prepared datasets are cached (default ``$BIOJEPA_CACHE_DIR`` or
            ``$BIOJEPA_HOME/cache``).
        batch_size: windows per encoder forward pass when extracting features / predicting.
        probe_epochs, probe_lr, probe_weight_decay, probe_batch_size: the linear probe (default 200 epochs of
            batch 64, AdamW lr 1e-2 with cosine decay to 0, weight decay 1e-2 on the weight). Sized for folds of
            tens to hundreds of subjects, where an epoch is one to a few steps (lr 1e-3 / 100 epochs left the probe
            under-trained on ABIDE: site accuracy 0.60 against 0.77).
        inner_folds: inner cross-validation folds of the sklearn / connectivity probes (default 3).
        ft_epochs, ft_max_steps, ft_batch_size, ft_lr, ft_lr_end, ft_weight_decay, ft_layer_decay: fine-tuning
            (default 50 epochs of batch 16 (Brain-JEPA), optional step cap, AdamW lr 1e-4 -> 1e-6 cosine,
            weight decay 0.05, layer decay 0.75).
        n_boot: bootstrap resamples of ``ci95`` (0: no interval).
    """

    task: str
    data: str
    models: list[str]
    task_kind: str | None = None
    split: str = "leave_site_out"
    test_sites: Sequence[str] | None = None
    folds: int = 5
    seeds: int = 3
    mode: str = "linear"
    baselines: str = "connectivity,random_init"
    crops: str = "multi"
    max_mean_fd: float | None = None
    fd_covariate: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    allow_overlap: bool = False
    model_overrides: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    cache_dir: str | Path | None = None
    batch_size: int = 64
    probe_epochs: int = 200
    probe_lr: float = 1e-2
    probe_weight_decay: float = 1e-2
    probe_batch_size: int = 64
    inner_folds: int = 3
    ft_epochs: int = 50
    ft_max_steps: int | None = None
    ft_batch_size: int = 16
    ft_lr: float = 1e-4
    ft_lr_end: float = 1e-6
    ft_weight_decay: float = 0.05
    ft_layer_decay: float = 0.75
    n_boot: int = 1000

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task.strip():
            raise ConfigError("--task is required: dx, sex, age, site, label or a participants column")
        self.task = self.task.strip()
        if self.task_kind is not None and self.task_kind not in _KINDS:
            raise ConfigError(
                f"unknown task_kind {self.task_kind!r}; expected 'classification' or 'regression'"
            )
        if self.task not in TASKS and self.task_kind is None:
            raise ConfigError(
                f"unknown --task {self.task!r}: the known tasks are {', '.join(TASKS)}; for another participants "
                "column give its kind too (task_kind='classification' or 'regression')"
            )
        if self.split not in SPLITS:
            raise ConfigError(f"unknown --split {self.split!r}; expected one of {', '.join(SPLITS)}")
        if self.mode not in MODES:
            raise ConfigError(f"unknown --mode {self.mode!r}; expected one of {', '.join(MODES)}")
        if self.crops not in CROPS:
            raise ConfigError(f"unknown crops {self.crops!r}; expected one of {', '.join(CROPS)}")
        if isinstance(self.models, str):
            self.models = [self.models]
        self.models = [str(m) for m in self.models]
        if not self.models:
            raise ConfigError("--model is required: a model directory or random:fmri_vit_tiny")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, found {self.seeds}")
        if len(self.models) not in (1, self.seeds):
            raise ConfigError(
                f"give one --model for all seeds or one per seed ({self.seeds}), found {len(self.models)}"
            )
        is_random = [m.startswith("random:") for m in self.models]
        if any(is_random) and not all(is_random):
            raise ConfigError("give either model directories or random:<name> models, not a mix of both")
        if self.model_overrides and not all(is_random):
            raise ConfigError(
                "model_overrides apply to random:<name> models only; a model directory is used as saved"
            )
        if self.split == "kfold" and (isinstance(self.folds, bool) or int(self.folds) < 2):
            raise ConfigError(f"--folds must be >= 2 for kfold, found {self.folds}")
        if self.test_sites is not None:
            if self.split != "leave_site_out":
                raise ConfigError(
                    "test_sites selects the test folds of --split leave_site_out; drop it for kfold"
                )
            sites = [self.test_sites] if isinstance(self.test_sites, str) else list(self.test_sites)
            self.test_sites = [str(s).strip() for s in sites if str(s).strip()]
            if not self.test_sites:
                raise ConfigError("test_sites selects no site")
        if self.task == "site" and self.split == "leave_site_out":
            raise ConfigError(
                "the site task cannot be evaluated leaving sites out (a test site is never a training "
                "class); use --split kfold"
            )
        names = [b.strip() for b in self.baselines.split(",") if b.strip()] if self.baselines else []
        unknown = [b for b in names if b not in BASELINES]
        if unknown:
            raise ConfigError(f"unknown baselines {unknown}; choose from {', '.join(BASELINES)}")
        if self.max_mean_fd is not None and not (
            math.isfinite(float(self.max_mean_fd)) and self.max_mean_fd > 0
        ):
            raise ConfigError(f"max_mean_fd must be a positive number of mm, found {self.max_mean_fd}")
        for name in ("batch_size", "probe_epochs", "probe_batch_size", "ft_epochs", "ft_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, found {getattr(self, name)}")
        if self.inner_folds < 2:
            raise ConfigError(f"inner_folds must be >= 2, found {self.inner_folds}")
        if self.ft_max_steps is not None and self.ft_max_steps < 1:
            raise ConfigError(f"ft_max_steps must be >= 1, found {self.ft_max_steps}")
        for name in ("probe_lr", "ft_lr"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be > 0, found {getattr(self, name)}")
        if not 0.0 <= self.ft_lr_end <= self.ft_lr:
            raise ConfigError(f"ft_lr_end must be in [0, ft_lr], found {self.ft_lr_end}")
        if self.probe_weight_decay < 0 or self.ft_weight_decay < 0:
            raise ConfigError("weight decays must be >= 0")
        if not 0.0 < self.ft_layer_decay <= 1.0:
            raise ConfigError(f"ft_layer_decay must be in (0, 1], found {self.ft_layer_decay}")
        if self.n_boot < 0:
            raise ConfigError(f"n_boot must be >= 0, found {self.n_boot}")

    @property
    def baseline_list(self) -> list[str]:
        """The requested baselines, in :data:`BASELINES` order."""
        names = {b.strip() for b in self.baselines.split(",") if b.strip()} if self.baselines else set()
        return [b for b in BASELINES if b in names]

    @property
    def column(self) -> str:
        """The table column holding the target."""
        return TASKS[self.task][0] if self.task in TASKS else self.task

    @property
    def kind(self) -> str:
        """``classification`` or ``regression``."""
        return self.task_kind or TASKS[self.task][1]


# ---------------------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------------------
def _load_model(model: str, *, seed: int, overrides: Mapping[str, Any]) -> Any:
    import torch

    from biojepa.eval.loading import load_encoder

    if model.startswith("random:") and overrides:
        from biojepa.models import create_model

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return create_model(model.split(":", 1)[1], **dict(overrides))
    return load_encoder(model, seed=seed)


def _check_fmri_model(enc: Any, name: str) -> Any:
    sig = getattr(getattr(enc, "spec", None), "signal", None)
    if sig is None:
        raise ContractError(f"model {name!r} carries no signal contract; build it with biojepa.create_model")
    if sig.tr_s is None:
        raise ContractError(
            f"model {name!r} expects a sampling rate in Hz ({sig.sfreq:g}); fMRI evaluation needs an fMRI model "
            "whose contract has tr_s (fmri_vit_tiny, fmri_vit_s, ...)"
        )
    return sig


# ---------------------------------------------------------------------------------------------------------
# data selection and splits
# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Fold:
    name: str
    train: np.ndarray
    test: np.ndarray
    test_sites: list[str]


def _data_arg(data: str) -> tuple[str, Path | None]:
    if "=" in data:
        from biojepa.data.sources import parse_data_arg

        return parse_data_arg(data)
    return data.strip(), None


def _fd_column(table: Any) -> np.ndarray | None:
    import pandas as pd

    fd = None
    for col in ("mean_fd", "func_mean_fd"):
        if col in table.columns:
            v = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=np.float64)
            fd = v if fd is None else np.where(np.isfinite(fd), fd, v)
    return fd


def _usable_subjects(
    cfg: FmriEvalConfig, table: Any, ds_id: str, patch_len: int
) -> tuple[np.ndarray, dict[str, str], np.ndarray | None]:
    """The usable rows of the participants table, the excluded records with their reasons, and the mean FD.

    A record is excluded without a value of the task's column, with a mean FD above ``max_mean_fd`` (or unknown
    while ``max_mean_fd`` or ``fd_covariate`` is set), or with fewer frames than one token (``patch_len``).

    Returns:
        ``keep`` ``(N_used,)`` row indices, ``excluded`` (record id -> reason) and the ``(N_loaded,)`` mean FD
        of the table (None without an FD column).

    Raises:
        ConfigError: no mean FD where ``max_mean_fd`` or ``fd_covariate`` needs it, or fewer than 4 usable
            subjects.
    """
    import pandas as pd

    column = cfg.column
    ids = table["record_id"].astype(str).to_numpy()
    excluded: dict[str, str] = {}
    raw = table[column]
    if cfg.kind == "regression":
        yv = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(yv)
    else:
        ok = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    for i in np.flatnonzero(~ok):
        excluded[ids[i]] = f"no {column} value"
    fd = _fd_column(table)
    if (cfg.max_mean_fd is not None or cfg.fd_covariate) and (fd is None or not np.isfinite(fd).any()):
        raise ConfigError(
            f"{ds_id} has no mean framewise displacement (mean_fd / func_mean_fd) to "
            f"{'exclude by' if cfg.max_mean_fd is not None else 'use as a covariate'}"
        )
    if cfg.max_mean_fd is not None:
        assert fd is not None
        for i in range(len(ids)):
            if ok[i] and not (np.isfinite(fd[i]) and fd[i] <= cfg.max_mean_fd):
                excluded[ids[i]] = (
                    f"mean FD {fd[i]:.3f} mm > max_mean_fd {cfg.max_mean_fd:g}"
                    if np.isfinite(fd[i])
                    else "mean FD unknown (max_mean_fd is set)"
                )
                ok[i] = False
    if cfg.fd_covariate:
        assert fd is not None
        for i in np.flatnonzero(ok & ~np.isfinite(fd)):
            excluded[ids[i]] = "mean FD unknown (fd_covariate is set)"
            ok[i] = False
    n_times = table["n_times"].to_numpy(dtype=np.int64)
    for i in np.flatnonzero(ok & (n_times < patch_len)):
        excluded[ids[i]] = f"{n_times[i]} frames, shorter than one token ({patch_len} frames)"
        ok[i] = False
    keep = np.flatnonzero(ok)
    if keep.size < 4:
        raise ConfigError(
            f"only {keep.size} subjects are usable after the exclusions ({len(excluded)} excluded)"
        )
    return keep, excluded, fd


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, float(v)) if isinstance(v, (int, float, np.integer, np.floating)) else (1, str(v))


def _splits(
    cfg: FmriEvalConfig,
    seed: int,
    y: np.ndarray,
    sites: np.ndarray,
    subjects: np.ndarray,
    classification: bool,
) -> tuple[list[_Fold], list[dict[str, str]]]:
    """The evaluated folds of ``seed`` and the skipped ones with their reasons."""
    skipped: list[dict[str, str]] = []
    folds: list[_Fold] = []
    if cfg.split == "leave_site_out":
        have = sorted(set(sites.tolist()))
        if cfg.test_sites is not None:
            up = {s.upper(): s for s in have}
            unknown = [s for s in cfg.test_sites if s.upper() not in up]
            if unknown:
                raise ConfigError(
                    f"test_sites {unknown} are not among the sites of the data ({', '.join(have)})"
                )
            chosen = [up[s.upper()] for s in cfg.test_sites]
        else:
            chosen = have
        if len(have) < 2:
            raise ConfigError(
                f"leave_site_out needs at least 2 sites, the data have {have}; use --split kfold"
            )
        for site in chosen:
            te = np.flatnonzero(sites == site)
            te_subj = set(subjects[te].tolist())
            tr = np.flatnonzero((sites != site) & ~np.isin(subjects, list(te_subj)))
            name = f"site:{site}"
            reason = None
            if classification and np.unique(y[te]).size < 2:
                reason = f"every test subject of site {site} has class {_only(y[te])}: the fold cannot score a classifier"
            elif classification and np.unique(y[tr]).size < 2:
                reason = f"the training sites leaving out {site} hold one class only ({_only(y[tr])})"
            elif tr.size < 2:
                reason = f"fewer than 2 training subjects when leaving out {site}"
            if reason is not None:
                skipped.append({"name": name, "reason": reason})
                continue
            folds.append(_Fold(name, tr, te, [site]))
        return folds, skipped
    from sklearn.model_selection import StratifiedGroupKFold

    k = int(cfg.folds)
    n_subj = np.unique(subjects).size
    if n_subj < k:
        raise ConfigError(f"kfold with {k} folds needs at least {k} subjects, found {n_subj}; lower --folds")
    strat = y if classification else np.unique(sites, return_inverse=True)[1]
    if classification:
        vals, counts = np.unique(y, return_counts=True)
        if counts.min() < k:
            raise ConfigError(
                f"class {int(vals[np.argmin(counts)])} has {int(counts.min())} subjects, fewer than the {k} folds; "
                "lower --folds"
            )
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=int(seed))
    with warnings.catch_warnings():
        # stratifying a regression target by site: a small site cannot be in every fold, which is fine
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        parts = list(sgkf.split(np.zeros(len(y)), strat, groups=subjects))
    for i, (tr, te) in enumerate(parts):
        name = f"fold{i}"
        if classification and np.unique(y[tr]).size < 2:
            skipped.append({"name": name, "reason": "the training part holds one class only"})
            continue
        folds.append(_Fold(name, np.sort(tr), np.sort(te), sorted(set(sites[te].tolist()))))
    return folds, skipped


def _only(y: np.ndarray) -> int:
    return int(np.unique(y)[0])


# ---------------------------------------------------------------------------------------------------------
# leakage check
# ---------------------------------------------------------------------------------------------------------
def _pretraining_subjects(model_dir: str, ds_id: str, params: Mapping[str, Any]) -> dict[str, set[str]]:
    """Subjects a model directory's config.json says it was pretrained on, per dataset."""
    from biojepa.io import read_config

    path = Path(model_dir).expanduser()
    if not path.is_dir():
        return {}
    training = read_config(path).get("training") or {}
    out: dict[str, set[str]] = {}
    for ds, info in (training.get("datasets") or {}).items():
        prov = (info or {}).get("provenance") or {}
        subs = prov.get("subjects_used")
        if subs:
            out[ds] = {str(s) for s in subs}
        elif prov.get("generated") and ds == ds_id == "fmri_synthetic":
            # the generated corpus is a function of its parameters: the same seed and size give the same records
            same = (
                int(prov.get("seed", -1)) == int(params.get("seed", 0))
                and int(prov.get("n_records", -1)) == int(params.get("n_records", 128))
                and float(prov.get("duration_s", 300.0)) == float(params.get("duration_s", 300.0))
            )
            if same:
                out[ds] = {f"synth{i + 1:03d}" for i in range(int(prov["n_records"]))}
    return out


def _check_overlap(
    models: Sequence[str],
    ds_id: str,
    params: Mapping[str, Any],
    tested: set[str],
    allow: bool,
    say: Callable[[str], None],
) -> dict[str, Any] | None:
    hits: dict[str, set[str]] = {}
    for m in models:
        if m.startswith("random:"):
            continue
        for ds, subs in _pretraining_subjects(m, ds_id, params).items():
            inter = subs & tested
            if inter:
                hits.setdefault(ds, set()).update(inter)
    if not hits:
        return None
    all_ids = sorted(set().union(*hits.values()))
    shown = ", ".join(all_ids[:10]) + (" ..." if len(all_ids) > 10 else "")
    msg = (
        f"the pretrained model was pretrained on {len(all_ids)} of the {len(tested)} test subjects ({shown}; "
        f"config.json training.datasets.{{{', '.join(sorted(hits))}}}.provenance.subjects_used): they would be "
        "scored on data the model has seen. Pretrain without them (data.<id>.exclude_subjects / sites), "
        "evaluate other sites (test_sites), or pass allow_overlap=True (--allow-overlap) to run anyway"
    )
    if not allow:
        raise ConfigError(msg)
    log.warning("%s (allow_overlap: running anyway)", msg)
    say(f"WARNING: {msg} (allow_overlap: running anyway)")
    return {"n_subjects": len(all_ids), "subjects": all_ids, "datasets": sorted(hits)}


# ---------------------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------------------
def _metric_names(kind: str, n_classes: int) -> list[str]:
    if kind == "regression":
        return ["mse", "pearson_r"]
    return ["accuracy", "f1_macro", "roc_auc"] if n_classes == 2 else ["accuracy", "f1_macro"]


def _metric(name: str, y: np.ndarray, s: np.ndarray) -> float:
    """One metric; NaN where it is undefined (one class, constant predictions)."""
    from biojepa.eval.metrics import accuracy, f1_macro, pearson_r, roc_auc_macro

    try:
        if name == "accuracy":
            return accuracy(y, s)
        if name == "f1_macro":
            return f1_macro(y, s)
        if name == "roc_auc":
            return roc_auc_macro(y, s[:, 1])
        if name == "mse":
            return float(np.mean((np.asarray(y, np.float64) - np.asarray(s, np.float64)) ** 2))
        if name == "pearson_r":
            return pearson_r(y, s)
    except UndefinedMetricError:
        return float("nan")
    raise ConfigError(f"unknown metric {name!r}")


# ---------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------
def run_fmri_eval(cfg: FmriEvalConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the fMRI evaluation and return the DESIGN.md §5 result dict (validated through ``EvalResult``).

    Raises:
        ConfigError: bad options, a missing label column, too few subjects for the split, test subjects the
            pretrained model has seen (without ``allow_overlap``).
        ContractError: the model is not an fMRI model, or the data do not match its ROIs.
        DataError: unreadable data (see :func:`~biojepa.adapters.fmri.datasets.load_fmri_records`).
    """
    import pandas as pd

    from biojepa.adapters.fmri.connectivity import fc_features
    from biojepa.adapters.fmri.datasets import load_fmri_records
    from biojepa.eval.loading import random_like
    from biojepa.eval.metrics import binomial_chance_bound, bootstrap_ci
    from biojepa.eval.results import EvalResult, ResultRow, summarise_seeds

    say = progress or (lambda _m: None)

    def note(msg: str) -> None:
        log.info(msg)
        say(msg)

    t0 = time.perf_counter()
    ds_id, root = _data_arg(cfg.data)
    kind, column = cfg.kind, cfg.column
    classification = kind == "classification"

    # -- models ----------------------------------------------------------------------------------------------
    encoders = []
    for k, m in enumerate(cfg.models):
        enc = _load_model(m, seed=k, overrides=cfg.model_overrides)
        _check_fmri_model(enc, m)
        enc.eval()
        encoders.append(enc)
    sig = encoders[0].spec.signal
    for m, enc in zip(cfg.models[1:], encoders[1:], strict=True):
        s2 = enc.spec.signal
        if (s2.tr_s, list(s2.channels), s2.n_times) != (sig.tr_s, list(sig.channels), sig.n_times):
            raise ConfigError(
                f"model {m!r} has another contract (TR, ROIs or window) than {cfg.models[0]!r}; "
                "every seed's model must share one"
            )
    pretrained_given = not cfg.models[0].startswith("random:")
    window = int(sig.n_times)
    patch_len = int(getattr(encoders[0].tokenizer, "patch_len", 1))

    # -- data ------------------------------------------------------------------------------------------------
    if cfg.cache_dir is not None:
        cache_dir = Path(cfg.cache_dir).expanduser()
    else:
        from biojepa.engine.pretrain import default_cache_dir

        cache_dir = default_cache_dir()
    params = dict(cfg.params)
    if ds_id == "fmri_synthetic":  # generate what pretraining generates for this model: records >= one window
        params.setdefault("duration_s", max(300.0, (window + 1) * float(sig.tr_s)))
    records, table = load_fmri_records(
        ds_id, root, tr_s=float(sig.tr_s), rois=list(sig.channels), params=params, cache_dir=cache_dir
    )
    if column not in table.columns:
        raise ConfigError(
            f"task {cfg.task!r} needs the column {column!r}, which {ds_id} does not have (columns: "
            f"{', '.join(map(str, table.columns))}); fmri_synthetic's task is 'label'"
        )
    keep, excluded, fd = _usable_subjects(cfg, table, ds_id, patch_len)
    ids = table["record_id"].astype(str).to_numpy()
    raw = table[column]
    recs = [records[i] for i in keep]
    rid = ids[keep]
    subjects = table["subject"].astype(str).to_numpy()[keep]
    subjects = np.where(subjects == "", rid, subjects)
    sites = table["site"].astype(str).to_numpy()[keep] if "site" in table.columns else np.full(keep.size, "")
    fd_k = fd[keep] if fd is not None else None
    if classification:
        values = raw.to_numpy()[keep]
        classes = sorted(set(values.tolist()), key=_sort_key)
        class_names = [
            str(c).removesuffix(".0") if isinstance(c, float) and float(c).is_integer() else str(c)
            for c in classes
        ]
        lookup = {c: j for j, c in enumerate(classes)}
        y = np.array([lookup[v] for v in values], dtype=np.int64)
        n_classes = len(classes)
        if n_classes < 2:
            raise ConfigError(f"every usable subject has {column} = {class_names[0]}; nothing to classify")
    else:
        y = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)[keep]
        class_names, n_classes = [], 1
    metrics = _metric_names(kind, n_classes)
    site_counts = {str(s): int(n) for s, n in zip(*np.unique(sites, return_counts=True), strict=True)}
    note(
        f"{ds_id}/{cfg.task}: {keep.size} subjects ({', '.join(f'{s} {n}' for s, n in site_counts.items())}); "
        + (
            f"classes {dict(zip(class_names, np.bincount(y, minlength=n_classes).tolist(), strict=True))}"
            if classification
            else f"{column} mean {y.mean():.2f} sd {y.std():.2f}"
        )
        + (f"; {len(excluded)} excluded" if excluded else "")
    )

    # -- splits and the leakage check ---------------------------------------------------------------------------
    folds_by_seed: dict[int, list[_Fold]] = {}
    skipped: list[dict[str, str]] = []
    for s in range(cfg.seeds):
        folds_by_seed[s], sk = _splits(cfg, s, y, sites, subjects, classification)
        if s == 0:
            skipped = sk
        if not folds_by_seed[s]:
            raise ConfigError(f"no fold can be evaluated: {'; '.join(x['reason'] for x in sk)}")
    for sk in skipped:
        note(f"skipping {sk['name']}: {sk['reason']}")
    tested_idx = np.unique(np.concatenate([f.test for fs in folds_by_seed.values() for f in fs]))
    overlap = _check_overlap(
        cfg.models, ds_id, params, set(subjects[tested_idx].tolist()), cfg.allow_overlap, say
    )
    note(
        f"split {cfg.split}: {len(folds_by_seed[0])} folds "
        f"({', '.join(f'{f.name} ({f.test.size})' for f in folds_by_seed[0])}), {tested_idx.size} subjects tested"
    )

    # -- variants ------------------------------------------------------------------------------------------------
    fit_cache: dict[str, Any] = {}
    feat_cache: dict[tuple[str, int, str], np.ndarray] = {}
    contracts: dict[str, dict[str, Any]] = {}
    feature_dims: dict[str, int] = {}
    selected: dict[str, list[dict[str, float]]] = {}
    fc_cache: list[np.ndarray | None] = [None]

    def fd_column(tr: np.ndarray, idx: np.ndarray) -> np.ndarray:
        assert fd_k is not None
        mu, sd = float(np.mean(fd_k[tr])), float(np.std(fd_k[tr]))
        return ((fd_k[idx] - mu) / (sd if sd > 0 else 1.0))[:, None]

    def with_fd(x: np.ndarray, tr: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.hstack([x, fd_column(tr, idx)]) if cfg.fd_covariate else x

    def encoder_scores(variant: str, enc: Any, s: int, fold: _Fold) -> tuple[np.ndarray, int | None]:
        rec_tr = [recs[i] for i in fold.train]
        fc = fold_contract(enc, rec_tr, cache=fit_cache, fold=fold.name)
        info = contracts.setdefault(
            variant, {"normalization": fc.normalization, "roi_table": fc.roi_table, "per_fold": {}}
        )
        info["per_fold"].setdefault(
            fold.name, {"n_train": int(fold.train.size), "table_sha256": fc.table_sha256}
        )
        if cfg.mode == "finetune":
            out, steps = _finetune_fold(
                fc,
                [fc.normalise(r) for r in rec_tr],
                y[fold.train],
                [fc.normalise(recs[i]) for i in fold.test],
                kind=kind,
                n_classes=n_classes,
                seed=s,
                cfg=cfg,
            )
            feature_dims[variant] = int(enc.num_features)
            return out, steps
        key = (variant, id(enc), fc.key)  # equal keys: the same encoder and inputs, hence the same features
        if key not in feat_cache:
            fold_specific = "fitted_on_training_fold" in (fc.normalization, fc.roi_table)
            need = np.union1d(fold.train, fold.test) if fold_specific else np.arange(len(recs))
            feats = np.zeros((len(recs), enc.num_features), dtype=np.float32)
            feats[need] = embed_records(
                fc.encoder,
                [fc.normalise(recs[i]) for i in need],
                crops=cfg.crops,
                batch_size=cfg.batch_size,
                device=cfg.device,
            )
            feat_cache[key] = feats
        feats = feat_cache[key]
        x_tr = with_fd(feats[fold.train], fold.train, fold.train)
        x_te = with_fd(feats[fold.test], fold.train, fold.test)
        feature_dims[variant] = int(x_tr.shape[1])
        if cfg.mode == "linear":
            return _linear_probe(x_tr, y[fold.train], x_te, kind=kind, n_classes=n_classes, seed=s, cfg=cfg)
        out, chosen = _sklearn_probe(
            x_tr, y[fold.train], x_te, kind=kind, n_classes=n_classes, seed=s, inner_folds=cfg.inner_folds
        )
        selected.setdefault(variant, []).append({"seed": s, "fold": fold.name, **chosen})  # type: ignore[dict-item]
        return out, None

    def connectivity_scores(variant: str, s: int, fold: _Fold) -> tuple[np.ndarray, int | None]:
        if fc_cache[0] is None:
            fc_cache[0] = np.stack([fc_features(r) for r in recs]).astype(np.float64)  # (N, R(R-1)/2)
        feats = fc_cache[0]
        x_tr = with_fd(feats[fold.train], fold.train, fold.train)
        x_te = with_fd(feats[fold.test], fold.train, fold.test)
        feature_dims[variant] = int(x_tr.shape[1])
        out, chosen = _sklearn_probe(
            x_tr, y[fold.train], x_te, kind=kind, n_classes=n_classes, seed=s, inner_folds=cfg.inner_folds
        )
        selected.setdefault(variant, []).append({"seed": s, "fold": fold.name, **chosen})  # type: ignore[dict-item]
        return out, None

    def chance_scores(variant: str, s: int, fold: _Fold) -> tuple[np.ndarray, int | None]:
        if kind == "regression":
            return np.full(fold.test.size, float(np.mean(y[fold.train]))), None
        freq = np.bincount(y[fold.train], minlength=n_classes) / fold.train.size
        return np.tile(freq, (fold.test.size, 1)), None

    variant_encoders: dict[str, list[Any]] = {}
    if pretrained_given:
        variant_encoders["pretrained"] = [
            encoders[s] if len(encoders) == cfg.seeds else encoders[0] for s in range(cfg.seeds)
        ]
    if "random_init" in cfg.baseline_list or not pretrained_given:  # random:<name> models are what is evaluated
        base = [encoders[s] if len(encoders) == cfg.seeds else encoders[0] for s in range(cfg.seeds)]
        variant_encoders["random_init"] = [
            random_like(base[s], RANDOM_INIT_SEED + s).eval() for s in range(cfg.seeds)
        ]

    runners: list[tuple[str, Callable[[str, int, _Fold], tuple[np.ndarray, int | None]]]] = []
    for v in ("pretrained", "random_init"):
        if v in variant_encoders:
            runners.append(
                (v, lambda name, s, fold: encoder_scores(name, variant_encoders[name][s], s, fold))
            )
    if "connectivity" in cfg.baseline_list:
        runners.append(("connectivity", connectivity_scores))
    runners.append(("chance", chance_scores))

    rows: list[ResultRow] = []
    undefined: list[dict[str, str]] = []
    split_name = f"{cfg.split}-test"
    seeds = list(range(cfg.seeds))
    majority = (
        float(np.bincount(y[tested_idx], minlength=n_classes).max() / tested_idx.size)
        if classification
        else None
    )
    bound = (
        binomial_chance_bound(int(tested_idx.size), majority)
        if majority is not None and majority < 1
        else None
    )
    fold_names = [f.name for f in folds_by_seed[0]]

    for variant, runner in runners:
        if variant != "chance":
            note(f"{variant} ({cfg.mode if variant != 'connectivity' else 'sklearn'})")
        per_seed: dict[str, list[float]] = {m: [] for m in metrics}
        per_fold = {m: np.full((cfg.seeds, len(fold_names)), np.nan) for m in metrics}
        pooled_scores: list[np.ndarray] = []
        step_counts: list[int] = []
        tested_s: np.ndarray | None = None
        for s in seeds:
            shape = (len(y), n_classes) if classification else (len(y),)
            scores = np.zeros(shape, dtype=np.float64)
            tested = np.zeros(len(y), dtype=bool)
            for fi, fold in enumerate(folds_by_seed[s]):
                out, steps = runner(variant, s, fold)
                scores[fold.test] = out
                tested[fold.test] = True
                if steps is not None:
                    step_counts.append(int(steps))
                for m in metrics:
                    per_fold[m][s, fi] = _metric(m, y[fold.test], out)
            for m in metrics:
                per_seed[m].append(_metric(m, y[tested], scores[tested]))
            pooled_scores.append(scores)
            tested_s = tested
            if variant != "chance":
                note(f"  {variant} seed {s}: " + ", ".join(f"{m} {per_seed[m][-1]:.3f}" for m in metrics))
        assert tested_s is not None
        mean_scores = np.mean(pooled_scores, axis=0)[tested_s]
        y_t = y[tested_s]
        for m in metrics:
            vals = per_seed[m]
            if variant == "chance" and m in ("roc_auc", "pearson_r"):
                vals = [0.5 if m == "roc_auc" else 0.0] * cfg.seeds
            if not all(np.isfinite(vals)):
                undefined.append(
                    {
                        "variant": variant,
                        "metric": m,
                        "reason": "undefined on the tested subjects (one class or constant predictions)",
                    }
                )
                continue
            mean, std = summarise_seeds(vals)
            folds_m = []
            for fi in range(len(fold_names)):
                col = per_fold[m][:, fi]
                col = col[np.isfinite(col)]
                if col.size and not (variant == "chance" and m in ("roc_auc", "pearson_r")):
                    folds_m.append(float(col.mean()))
            ci = None
            if cfg.n_boot and variant != "chance":
                try:
                    ci = bootstrap_ci(
                        lambda a, b, m=m: _metric_or_raise(m, a, b),
                        y_t,
                        mean_scores,
                        n_boot=cfg.n_boot,
                        seed=0,
                    ).as_list()
                except UndefinedMetricError:
                    ci = None
            rows.append(
                ResultRow(
                    variant=variant,
                    metric=m,
                    split=split_name,
                    value=mean,
                    std=std,
                    ci95=ci,
                    seeds=seeds,
                    per_seed=[float(v) for v in vals],
                    n_labels=n_classes,
                    n_test=int(tested_s.sum()),
                    steps=round(float(np.mean(step_counts))) if step_counts else None,
                    chance_bound=bound if m == "accuracy" else None,
                    per_fold=folds_m,
                )
            )

    n_records: dict[str, int] = {
        "loaded": len(records),
        "used": int(keep.size),
        "tested": int(tested_idx.size),
        "excluded": len(excluded),
    }
    if classification:
        for name, cnt in zip(class_names, np.bincount(y, minlength=n_classes), strict=True):
            n_records[f"class_{name}"] = int(cnt)
    split_info: dict[str, Any] = {
        "kind": cfg.split,
        "folds": [
            {
                "name": f.name,
                "test_sites": f.test_sites,
                "n_train": int(f.train.size),
                "n_test": int(f.test.size),
            }
            for f in folds_by_seed[0]
        ],
        "n_splits": len(folds_by_seed[0]),
        "skipped": skipped,
        "sites": site_counts,
    }
    if cfg.split == "kfold":
        split_info.update(
            k=int(cfg.folds), stratified_by="label" if classification else "site", reshuffled_per_seed=True
        )
    else:
        split_info["test_sites"] = [f.test_sites[0] for f in folds_by_seed[0]]
    result = EvalResult(
        task=f"{ds_id}/{cfg.task}", mode=cfg.mode, split=split_info, n_records=n_records, rows=rows
    )
    out = result.model_dump(mode="json")
    out["models"] = list(cfg.models)
    out["wall_s"] = time.perf_counter() - t0
    out["label"] = {
        "task": cfg.task,
        "column": column,
        "kind": kind,
        "classes": class_names,
        **({"positive_class": class_names[1]} if n_classes == 2 else {}),
    }
    out["excluded"] = dict(sorted(excluded.items()))
    out["feature_dims"] = feature_dims
    out["contract"] = contracts
    if selected:
        out["selected"] = selected
    if undefined:
        out["undefined"] = undefined
    if overlap is not None:
        out["overlap"] = overlap
    out["protocol"] = _protocol(cfg, sig, patch_len)
    note(f"done in {out['wall_s']:.1f} s")
    return out


def _protocol(cfg: FmriEvalConfig, sig: Any, patch_len: int) -> dict[str, Any]:
    """The ``protocol`` entry of the result: the model's input contract and the probe's settings."""
    window = int(sig.n_times)
    return {
        "tr_s": float(sig.tr_s),
        "n_times": window,
        "patch_len": patch_len,
        "n_rois": len(sig.channels),
        "atlas": sig.atlas,
        "crops": cfg.crops,
        "crop_stride": max(1, window // 2) if cfg.crops == "multi" else None,
        "mode": cfg.mode,
        "fd_covariate": cfg.fd_covariate,
        "max_mean_fd": cfg.max_mean_fd,
        "seeds": cfg.seeds,
        "random_init_seed": RANDOM_INIT_SEED,
        **(
            {
                "probe": {
                    "head": "batchnorm(affine=False)+linear",
                    "epochs": cfg.probe_epochs,
                    "lr": cfg.probe_lr,
                    "weight_decay": cfg.probe_weight_decay,
                    "batch_size": cfg.probe_batch_size,
                    "optimizer": "adamw",
                    "schedule": "cosine",
                }
            }
            if cfg.mode == "linear"
            else {}
        ),
        **(
            {
                "finetune": {
                    "head": "mean-pool+layernorm+linear",
                    "epochs": cfg.ft_epochs,
                    "max_steps": cfg.ft_max_steps,
                    "batch_size": cfg.ft_batch_size,
                    "lr": cfg.ft_lr,
                    "lr_end": cfg.ft_lr_end,
                    "weight_decay": cfg.ft_weight_decay,
                    "layer_decay": cfg.ft_layer_decay,
                }
            }
            if cfg.mode == "finetune"
            else {}
        ),
        "sklearn": {
            "C_grid": list(C_GRID),
            "alpha_grid": list(ALPHA_GRID),
            "inner_folds": cfg.inner_folds,
            "scoring": "neg_log_loss (classification), leave-one-out MSE (ridge)",
        },
    }


def _metric_or_raise(name: str, y: np.ndarray, s: np.ndarray) -> float:
    v = _metric(name, y, s)
    if not np.isfinite(v):
        raise UndefinedMetricError(f"{name} undefined on this resample")
    return v
