"""The ``biojepa`` command line (typer). Every command is a thin call into a library function.

Exit codes: 0 ok, 1 runtime error, 2 usage or configuration error (also for commands whose modality has not
landed yet). ``--json PATH`` writes a machine-readable result; on failure the file is still written with
``"status": "error"`` and the message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from biojepa._version import __version__
from biojepa.errors import (
    BioJepaError,
    ConfigError,
    NotAvailableError,
    TrainingInterrupted,
    UnknownNameError,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="biojepa",
    help="JEPA self-supervised models for biomedical signals (ECG, EEG, fMRI).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
pretrain_app = typer.Typer(help="Pretrain a JEPA model.", no_args_is_help=True)
finetune_app = typer.Typer(help="Fine-tune / evaluate on downstream benchmarks.", no_args_is_help=True)
models_app = typer.Typer(help="Registered model architectures.", no_args_is_help=True)
recipes_app = typer.Typer(help="Shipped run recipes.", no_args_is_help=True)
datasets_app = typer.Typer(help="Dataset cards and preparation.", no_args_is_help=True)
bench_app = typer.Typer(help="Throughput / latency / memory benchmarks.", no_args_is_help=True)
fmri_app = typer.Typer(help="fMRI utilities.", no_args_is_help=True)
app.add_typer(pretrain_app, name="pretrain")
app.add_typer(finetune_app, name="finetune")
app.add_typer(models_app, name="models")
app.add_typer(recipes_app, name="recipes")
app.add_typer(datasets_app, name="datasets")
app.add_typer(bench_app, name="bench")
app.add_typer(fmri_app, name="fmri")

USAGE_ERRORS = (ConfigError, UnknownNameError, NotAvailableError)

#: which issue brings each not-yet-available command (shown in the exit-2 message)
PENDING: dict[str, str] = {}


# ------------------------------------------------------------------------------------------------------
# output helpers
#: Under torchrun only rank 0 prints results, writes --json files and logs below ERROR (see ``main``).
_OTHER_RANK: str | None = None


def _echo(msg: str) -> None:
    if _OTHER_RANK is None:
        typer.echo(msg)


def _err(msg: str) -> None:
    typer.echo(msg if _OTHER_RANK is None else f"[rank {_OTHER_RANK}] {msg}", err=True)


def _write_json(path: Path, payload: Mapping[str, Any]) -> None:
    if _OTHER_RANK is not None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def _command(json_path: Path | None, kind: str) -> Iterator[None]:
    """Map biojepa errors to exit codes and write the error JSON on failure."""
    try:
        yield
    except typer.Exit:
        raise
    except USAGE_ERRORS as exc:
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "error", "kind": kind, "message": str(exc)})
        _err(f"error: {exc}")
        raise typer.Exit(2) from None
    except TrainingInterrupted as exc:  # SIGTERM: checkpointed, exit like a process killed by SIGTERM
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "interrupted", "kind": kind,
                                    "message": str(exc), "step": exc.step, "checkpoint": exc.checkpoint})
        _err(f"interrupted: {exc}")
        raise typer.Exit(143) from None
    except (BioJepaError, OSError, RuntimeError, ValueError) as exc:
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "error", "kind": kind, "message": str(exc)})
        _err(f"error: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


def _not_available(command: str, json_path: Path | None = None) -> None:
    with _command(json_path, command):
        raise NotAvailableError(
            f"`biojepa {command}` is not available in biojepa {__version__} yet: it arrives with "
            f"{PENDING[command]}. Nothing was run."
        )


def _csv(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]`` (None for None / empty)."""
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _kv(items: list[str] | None) -> dict[str, Any]:
    """``["k=v", ...]`` -> ``{k: yaml(v)}``.

    Raises:
        ConfigError: an item without ``=``.
    """
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"parameter {item!r} must look like key=value (e.g. folds=1-6, max_mean_fd=0.2)")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


class _Progress:
    """Progress output: a rich bar on a TTY, plain log lines otherwise (CI, SLURM logs)."""

    def __init__(self, mode: str, label: str) -> None:
        if mode == "auto":
            mode = "rich" if sys.stdout.isatty() else "plain"
        self.mode = mode
        self.label = label
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.mode == "rich":
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, step: int, total: int, info: Mapping[str, Any] | None = None) -> None:
        info = dict(info or {})
        text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items())
        if self.mode == "rich":
            if self._task is None:
                self._task = self._bar.add_task(self.label, total=total, info="")
            self._bar.update(self._task, completed=step, info=text)
        elif self.mode == "plain":  # about 20 lines per run, plus the first and the last step
            every = max(1, total // 20)
            if step in (1, total) or step % every == 0:
                _echo(f"[{self.label}] step {step}/{total} {text}".rstrip())


# ------------------------------------------------------------------------------------------------------
def _version_callback(value: bool) -> None:
    if value:
        _echo(f"biojepa {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """JEPA self-supervised models for biomedical signals."""


# -- pretrain -------------------------------------------------------------------------------------------
RecipeOpt = Annotated[str | None, typer.Option("--recipe", help="Recipe name (`biojepa recipes list`) or YAML path.")]
DataOpt = Annotated[
    list[str] | None, typer.Option("--data", help="ID=DIR data source (repeatable; replaces the recipe's sources).")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Run directory (must be empty unless --resume).")]
ResumeOpt = Annotated[str, typer.Option("--resume", help="'auto': continue from the newest valid checkpoint.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the result as JSON to this path.")]
OverridesArg = Annotated[list[str] | None, typer.Argument(help="key.sub=value overrides, e.g. engine.steps=50")]

DEFAULT_RECIPES = {"synthetic": "synthetic/tiny", "ecg": "ecg/demo", "eeg": "eeg/demo", "fmri": "fmri/demo"}


def pretrain_command(
    modality: str,
    recipe: str | None,
    data: list[str] | None,
    out: Path | None,
    resume: str,
    json_path: Path | None,
    overrides: list[str] | None,
) -> dict[str, Any]:
    """Resolve the run configuration and run :func:`biojepa.engine.pretrain.run_pretrain`."""
    from biojepa.config import resolve_config

    if resume not in ("auto", "none"):
        raise ConfigError(f"--resume must be 'auto' or 'none', got {resume!r}")
    from biojepa.config import list_recipes, load_recipe

    ovr = list(overrides or [])
    name = recipe or DEFAULT_RECIPES[modality]
    if "/" not in name and not name.endswith((".yaml", ".yml")) and f"{modality}/{name}" in list_recipes():
        name = f"{modality}/{name}"  # --recipe vit_xs means ecg/vit_xs under `pretrain ecg`
    raw = load_recipe(name)
    if data:  # the given sources replace the recipe's; key=value overrides apply afterwards
        from biojepa.data.sources import parse_data_arg

        sources = []
        for arg in data:
            ds_id, root = parse_data_arg(arg)
            sources.append({"id": ds_id, "root": str(root)})
        raw = {**raw, "data": {**dict(raw.get("data") or {}), "sources": sources}}
    cfg = resolve_config(raw, ovr)
    if cfg.modality != modality:
        raise ConfigError(f"recipe {name!r} is for modality {cfg.modality!r}, not {modality!r}")
    run_dir = out or Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    from biojepa.engine.pretrain import run_pretrain

    with _Progress(cfg.log.progress, f"pretrain {modality}") as progress:
        result = run_pretrain(cfg, run_dir, resume=resume == "auto", progress=progress, recipe=name)
    return result


def _pretrain(modality: str, recipe: str | None, data: list[str] | None, out: Path | None, resume: str,
              json_path: Path | None, overrides: list[str] | None) -> None:
    with _command(json_path, f"pretrain {modality}"):
        result = pretrain_command(modality, recipe, data, out, resume, json_path, overrides)
        if json_path is not None:
            _write_json(json_path, result)
        _echo(
            f"done: {result['steps']} steps, {result['samples_seen']} samples in {result['wall_s']:.1f} s, "
            f"final loss {result['final_loss']:.4f}\nmodel: {result['model_dir']}"
        )
        _echo_datasets(result)


def _echo_datasets(result: Mapping[str, Any]) -> None:
    """One line per data source: records used, quarantined, duplicates dropped, source facts (e.g. file rates)."""
    from biojepa.io import read_config

    try:
        training = read_config(result["model_dir"]).get("training") or {}
    except (BioJepaError, OSError, ValueError):
        training = {}
    for ds_id, info in (result.get("datasets") or {}).items():
        prov = ((training.get("datasets") or {}).get(ds_id) or {}).get("provenance") or {}
        facts = [f"{k}={v}" for k, v in prov.items() if k != "root" and not isinstance(v, (dict, list))]
        if prov.get("folds"):
            facts.insert(0, f"folds={','.join(map(str, prov['folds']))}")
        _echo(f"data {ds_id}: {info['n_records']} records, {info.get('n_quarantined', 0)} quarantined, "
              f"{info.get('n_duplicates_dropped', 0)} duplicates dropped" + (f" ({', '.join(facts)})" if facts else ""))


@pretrain_app.command("synthetic")
def pretrain_synthetic(
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    out: OutOpt = None,
    resume: ResumeOpt = "none",
    json_path: JsonOpt = None,
    overrides: OverridesArg = None,
) -> None:
    """Pretrain the tiny demo model on generated signals with planted structure (no data needed)."""
    _pretrain("synthetic", recipe, data, out, resume, json_path, overrides)


@pretrain_app.command("ecg")
def pretrain_ecg(
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    out: OutOpt = None,
    resume: ResumeOpt = "none",
    json_path: JsonOpt = None,
    overrides: OverridesArg = None,
) -> None:
    """Pretrain ECG-JEPA. No options: the CPU demo on the embedded synthetic 12-lead corpus (ecg/demo).

    Real data: --recipe vit_xs|vit_s|vit_b|demo --data ptbxl=DIR --data wfdb=DIR2 ... (each ID is a dataset
    card, `biojepa datasets list`); parameters of a source as data.<id>.<param>=value, e.g. data.ptbxl.folds=1-6.
    """
    _pretrain("ecg", recipe, data, out, resume, json_path, overrides)


@pretrain_app.command("eeg")
def pretrain_eeg(
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    out: OutOpt = None,
    resume: ResumeOpt = "none",
    json_path: JsonOpt = None,
    overrides: OverridesArg = None,
) -> None:
    """Pretrain S-JEPA on EEG. No options: the CPU demo on the embedded synthetic 19-channel corpus (eeg/demo).

    Real data: --recipe sjepa_16s_r40 (or sjepa_{1s,4s,16s}_r{40,60,80}, demo) --data eegmmidb=DIR ...; the
    model's channel table is the recipe's model.overrides.signal.channels (channels are matched by name).
    """
    _pretrain("eeg", recipe, data, out, resume, json_path, overrides)


@pretrain_app.command("fmri")
def pretrain_fmri(
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    out: OutOpt = None,
    resume: ResumeOpt = "none",
    json_path: JsonOpt = None,
    overrides: OverridesArg = None,
) -> None:
    """Pretrain Brain-JEPA on fMRI ROI time series. No options: the CPU demo on the embedded synthetic corpus (fmri/demo).

    Real data: --recipe abide_small|vit_s|vit_b|vit_l|demo --data abide_roi=DIR (or roi_dir=DIR); the model's ROIs are
    matched by name, series are resampled to its TR and demeaned, and the ROI gradient table is fitted on the
    pretraining records (or read from `biojepa fmri gradients` output via model.overrides.tokenizer.args.roi_table).
    """
    _pretrain("fmri", recipe, data, out, resume, json_path, overrides)


def _pending(command_name: str) -> Any:
    def command(
        args: Annotated[list[str] | None, typer.Argument(help="(not available yet)")] = None,
        json_path: JsonOpt = None,
    ) -> None:
        _not_available(command_name, json_path)

    command.__doc__ = f"(arrives with {PENDING[command_name]})"
    return command


@finetune_app.command("ptbxl")
def finetune_ptbxl(
    model: Annotated[list[str], typer.Option("--model", help="model directory, or random:<name> (e.g. "
                                                "random:ecg_vit_xs); repeat to pair one model with each seed")],
    data_root: Annotated[Path, typer.Option("--data-root", help="PTB-XL folder (ptbxl_database.csv, records100/...)")],
    task: Annotated[str, typer.Option(help="all|diagnostic|subdiagnostic|superdiagnostic|form|rhythm|"
                                           "superdiagnostic_single")] = "all",
    mode: Annotated[str, typer.Option(help="linear|pooled_lr|finetune_after_linear|finetune")] = "linear",
    train_folds: Annotated[str, typer.Option("--train-folds", help="training folds")] = "1-8",
    val_folds: Annotated[str, typer.Option("--val-folds", help="validation folds (model selection)")] = "9",
    test_folds: Annotated[str, typer.Option("--test-folds", help="test folds")] = "10",
    sfreq: Annotated[int, typer.Option("--sfreq", help="which files to read: 100 or 500 (Hz)")] = 500,
    seeds: Annotated[int, typer.Option("--seeds", help="number of seeds (0..N-1)")] = 3,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="cap on training steps")] = None,
    baselines: Annotated[str, typer.Option(help="comma list of random_init,handcrafted,scratch ('' for none)")]
    = "random_init,handcrafted",
    window_s: Annotated[float, typer.Option("--window-s", help="training/evaluation window (s)")] = 2.5,
    stride_s: Annotated[float, typer.Option("--stride-s", help="evaluation window stride (s)")] = 1.25,
    n_boot: Annotated[int, typer.Option("--n-boot", help="bootstrap resamples of the 95 % CI")] = 1000,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="signal cache (default: shared cache)")]
    = None,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "cpu",
    json_path: JsonOpt = None,
) -> None:
    """Evaluate an ECG model on the PTB-XL benchmark (ECG-JEPA protocol) with baselines."""
    with _command(json_path, "finetune ptbxl"):
        from biojepa.adapters.ecg.ptbxl_eval import PtbxlEvalConfig, run_ptbxl
        from biojepa.engine.trainer import resolve_device

        cfg = PtbxlEvalConfig(
            model=list(model), data_root=data_root, task=task, mode=mode, train_folds=train_folds, val_folds=val_folds,
            test_folds=test_folds, sfreq_files=sfreq, seeds=seeds, max_steps=max_steps,
            baselines=tuple(b.strip() for b in baselines.split(",") if b.strip()), window_s=window_s,
            stride_s=stride_s, n_boot=n_boot, cache_dir=cache_dir, device=str(resolve_device(device)),
        )
        result = run_ptbxl(cfg, progress=_echo)
        if json_path is not None:
            _write_json(json_path, result)
        _echo(f"PTB-XL {task} ({mode}), test folds {result['folds']['test']}, records {result['n_records']}")
        for r in result["rows"]:
            ci = r.get("ci95") or [float("nan"), float("nan")]
            _echo(f"  {r['variant']:<12} macro AUC {r['value']:.3f} ± {r['std']:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}; "
                  f"val {r['val_value']:.3f}; {len(r['seeds'])} seed(s)"
                  + (f"; dropped {r['dropped_labels']}" if r["dropped_labels"] else "") + ")")


@finetune_app.command("bci")
def finetune_bci(
    paradigm: Annotated[str, typer.Option(help="mi | mi_executed | mi_fists_feet | mi_lr | erp | ssvep")],
    data: Annotated[str, typer.Option("--data", help="ID=DIR (e.g. eegmmidb=/data/eegmmidb), eeg_synthetic, or "
                                                     "lee2019 / bnci2014_001 through MOABB (no DIR)")],
    model: Annotated[list[str], typer.Option("--model", help="model directory, or random:<name> (e.g. "
                                                "random:eeg_sjepa); repeat to pair one model with each seed")],
    arch: Annotated[str, typer.Option(help="pre_local | post_local | contextual")] = "pre_local",
    scheme: Annotated[str, typer.Option(help="new (pretrained parts frozen) | full (warm-up, then all)")] = "new",
    split: Annotated[str, typer.Option(help="within (per-subject k-fold) | loso (leave one subject out)")]
    = "within",
    events: Annotated[str | None, typer.Option(help="MARKER=CLASS pairs, e.g. T1=left,T2=right")] = None,
    subjects: Annotated[str | None, typer.Option(help="subjects to use, e.g. 1,2 (dataset numbering)")] = None,
    folds: Annotated[int, typer.Option(help="k of the within-subject k-fold")] = 5,
    seeds: Annotated[int, typer.Option("--seeds", help="number of seeds (0..N-1)")] = 3,
    n_times: Annotated[int | None, typer.Option("--n-times", help="trial length in samples at 128 Hz "
                                                                  "(default: the paradigm's)")] = None,
    baselines: Annotated[str, typer.Option(help="'default' (the paradigm's classical baseline) or '' for none")]
    = "default",
    max_epochs: Annotated[int, typer.Option("--max-epochs", help="upper bound on training epochs")] = 500,
    patience: Annotated[int, typer.Option(help="early-stopping patience in epochs")] = 50,
    permutations: Annotated[int, typer.Option(help="label permutations for each row's p-value (0: none)")] = 1000,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "cpu",
    json_path: JsonOpt = None,
) -> None:
    """Fine-tune S-JEPA heads on a BCI paradigm and compare with random init, a classical baseline and chance."""
    with _command(json_path, "finetune bci"):
        from biojepa.adapters.eeg.bci_eval import BciEvalConfig, parse_events, run_bci
        from biojepa.engine.trainer import resolve_device

        subj = None
        if subjects:
            subj = [int(s) if s.strip().isdigit() else s.strip() for s in subjects.split(",") if s.strip()]
        cfg = BciEvalConfig(
            paradigm=paradigm, data=data, models=list(model), arch=arch, scheme=scheme, split=split,
            folds=folds, seeds=seeds, events=parse_events(events), subjects=subj, n_times=n_times,
            baselines=baselines, max_epochs=max_epochs, patience=patience, n_permutations=permutations,
            device=str(resolve_device(device)),
        )
        result = run_bci(cfg, progress=_echo)
        if json_path is not None:
            _write_json(json_path, result)
        _echo(f"{result['task']} ({result['mode']}, {split}), {result['n_records']['trials']} trials")
        for r in result["rows"]:
            extra = f" (chance bound {r['chance_bound']:.3f})" if r.get("chance_bound") is not None else ""
            p = f", p={r['p_value']:.3g}" if r.get("p_value") is not None else ""
            _echo(f"  {r['variant']:<12} {r['metric']} {r['value']:.3f} ± {r['std'] or 0:.3f}{p}{extra}")


@finetune_app.command("fmri")
def finetune_fmri(
    task: Annotated[str, typer.Option(help="dx | sex | age | site | label, or a participants column (with --task-kind)")],
    data: Annotated[str, typer.Option("--data", help="abide_roi=DIR, or fmri_synthetic")],
    model: Annotated[list[str], typer.Option("--model", help="model directory, or random:<name> (e.g. "
                                                "random:fmri_vit_tiny); repeat to pair one model with each seed")],
    split: Annotated[str, typer.Option(help="leave_site_out | kfold")] = "leave_site_out",
    test_sites: Annotated[str | None, typer.Option("--test-sites", help="comma-separated test sites "
                                                                         "(leave_site_out; default: every site)")]
    = None,
    folds: Annotated[int, typer.Option(help="k of the k-fold split (whole subjects)")] = 5,
    seeds: Annotated[int, typer.Option("--seeds", help="number of seeds (0..N-1)")] = 3,
    mode: Annotated[str, typer.Option(help="linear (BN + linear probe) | sklearn (logistic / ridge) | finetune")]
    = "linear",
    baselines: Annotated[str, typer.Option(help="comma list of connectivity,random_init ('' for none)")]
    = "connectivity,random_init",
    crops: Annotated[str, typer.Option(help="multi (every window, half-window stride) | center")] = "multi",
    max_mean_fd: Annotated[float | None, typer.Option("--max-mean-fd", help="exclude subjects whose mean FD "
                                                                             "(mm) is above")] = None,
    fd_covariate: Annotated[bool, typer.Option("--fd-covariate", help="add mean FD as a probe input")] = False,
    task_kind: Annotated[str | None, typer.Option("--task-kind", help="classification | regression (other "
                                                                       "columns)")] = None,
    allow_overlap: Annotated[bool, typer.Option("--allow-overlap", help="run even if the model was pretrained on "
                                                                         "test subjects")] = False,
    ft_epochs: Annotated[int, typer.Option("--ft-epochs", help="fine-tuning epochs (mode finetune)")] = 50,
    ft_max_steps: Annotated[int | None, typer.Option("--ft-max-steps", help="cap on fine-tuning steps")] = None,
    probe_epochs: Annotated[int, typer.Option("--probe-epochs", help="linear-probe epochs")] = 200,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "cpu",
    json_path: JsonOpt = None,
    params: Annotated[list[str] | None, typer.Argument(help="dataset parameters key=value, e.g. sites=[PITT,OLIN]")]
    = None,
) -> None:
    """Predict diagnosis / sex / age from ROI series: the pretrained encoder against random init, the connectivity
    baseline (correlation upper triangle + logistic / ridge regression) and chance, with site-aware splits."""
    with _command(json_path, "finetune fmri"):
        from biojepa.adapters.fmri.fmri_eval import FmriEvalConfig, run_fmri_eval
        from biojepa.engine.trainer import resolve_device

        cfg = FmriEvalConfig(
            task=task, data=data, models=list(model), task_kind=task_kind, split=split,
            test_sites=_csv(test_sites), folds=folds, seeds=seeds, mode=mode, baselines=baselines, crops=crops,
            max_mean_fd=max_mean_fd, fd_covariate=fd_covariate, params=_kv(params), allow_overlap=allow_overlap,
            ft_epochs=ft_epochs, ft_max_steps=ft_max_steps, probe_epochs=probe_epochs,
            device=str(resolve_device(device)),
        )
        result = run_fmri_eval(cfg, progress=_echo)
        if json_path is not None:
            _write_json(json_path, result)
        n = result["n_records"]
        _echo(f"{result['task']} ({result['mode']}, {split}): {n.get('tested', 0)} test subjects of "
              f"{n.get('used', 0)} used")
        for r in result["rows"]:
            extra = f" (chance bound {r['chance_bound']:.3f})" if r.get("chance_bound") is not None else ""
            ci = r.get("ci95")
            ci_txt = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            _echo(f"  {r['variant']:<13} {r['metric']:<9} {r['value']:.3f} ± {r['std'] or 0:.3f}{ci_txt}{extra}")
@app.command("encode")
def encode_command(
    inputs: Annotated[list[Path], typer.Argument(help="WFDB records (.hea or base path), EEG files (EDF/BDF/GDF/"
                                                      ".vhdr/.set/.fif), .npy arrays (C, T) or (B, C, T), fMRI ROI "
                                                      "files or NIfTI images, or folders of records")],
    model: Annotated[str, typer.Option("--model", help="model directory (RUN/model) or name.tag of local weights")],
    out: Annotated[Path, typer.Option("--out", help="embeddings file: .parquet (needs pyarrow) or .npy")],
    sfreq: Annotated[float | None, typer.Option(help="sampling rate of .npy inputs (Hz)")] = None,
    channels: Annotated[str | None, typer.Option(help="comma-separated channel names of .npy inputs")] = None,
    units: Annotated[str | None, typer.Option(help="input units (V, mV, uV) when not the model's")] = None,
    allow_resample: Annotated[bool, typer.Option("--allow-resample", help="resample other rates")] = False,
    stride: Annotated[int | None, typer.Option(help="window stride in samples for long records")] = None,
    normalization: Annotated[str, typer.Option(help="contract | none | per_record | a dataset id")] = "contract",
    nan: Annotated[str, typer.Option(help="raise | interpolate")] = "raise",
    pad: Annotated[bool, typer.Option("--pad", help="zero-pad records shorter than the window")] = False,
    missing_channels: Annotated[str, typer.Option("--missing-channels", help="raise | fill")] = "raise",
    batch_size: Annotated[int, typer.Option("--batch-size", help="windows per forward pass")] = 64,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    progress: Annotated[str, typer.Option(help="auto | rich | plain | none")] = "auto",
    tr_s: Annotated[float | None, typer.Option("--tr-s", help="fMRI: repetition time of the inputs (s)")] = None,
    orientation: Annotated[str | None, typer.Option(help="fMRI: roi_time | time_roi of .npy / headerless files")]
    = None,
    labels_img: Annotated[Path | None, typer.Option("--labels-img", help="fMRI: labels atlas for NIfTI inputs")]
    = None,
    json_path: JsonOpt = None,
) -> None:
    """Embed recordings: one row per record (record_id, n_windows, error, embedding); a bad record is reported.

    fMRI models take ROI time-series files (.npy/.csv/.tsv/.txt/.1D/.mat) or 4-D NIfTI images with --labels-img,
    with --tr-s (and --orientation where the format has no convention) and --channels naming the ROIs when the file
    has no header.
    """
    with _command(json_path, "encode"):
        from biojepa.io.embeddings import run_encode

        with _Progress(progress, "encode") as bar:
            summary = run_encode(
                inputs, model=model, out=out, sfreq=sfreq,
                channels=[c.strip() for c in channels.split(",")] if channels else None, units=units,
                allow_resample=allow_resample, stride=stride, normalization=normalization, nan=nan, pad=pad,
                missing_channels=missing_channels, batch_size=batch_size, device=device, progress=bar,
                **({"tr_s": tr_s} if tr_s is not None else {}),
                **({"orientation": orientation} if orientation is not None else {}),
                **({"labels_img": str(labels_img)} if labels_img is not None else {}),
            )
        _echo(f"{summary['n_ok']} records embedded ({summary['dim']} features), {summary['n_errors']} failed -> "
              f"{summary['out']}")
        for rid, err in summary["errors"][:20]:
            _echo(f"  error {rid}: {err}")
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "ok", **summary})
@fmri_app.command("gradients")
def fmri_gradients(
    out: Annotated[Path, typer.Option("--out", help="the table to write (TABLE.npy; TABLE.json sidecar beside it)")],
    fc: Annotated[Path | None, typer.Option("--fc", help="a group connectivity matrix (.npy or .csv), ROI x ROI")]
    = None,
    data: Annotated[str | None, typer.Option("--data", help="ID=DIR of ROI series (abide_roi=DIR, roi_dir=DIR) or "
                                                           "fmri_synthetic: the group FC of the chosen subjects")] = None,
    subjects: Annotated[str | None, typer.Option(help="comma-separated subject ids (the TRAINING subjects only)")]
    = None,
    sites: Annotated[str | None, typer.Option(help="comma-separated sites (ABIDE-style data)")] = None,
    k: Annotated[int, typer.Option("--k", help="number of gradients")] = 30,
    sparsity: Annotated[float, typer.Option(help="fraction of each FC row zeroed before the affinity")] = 0.9,
    alpha: Annotated[float, typer.Option(help="anisotropic diffusion normalisation")] = 0.5,
    reference: Annotated[Path | None, typer.Option(help="a table to Procrustes-align to (stable signs)")] = None,
    tr_s: Annotated[float, typer.Option("--tr-s", help="TR the series are resampled to first (s)")] = 2.2,
    atlas: Annotated[str | None, typer.Option(help="ROI table for data without one (e.g. aal116)")] = None,
    json_path: JsonOpt = None,
    params: Annotated[list[str] | None, typer.Argument(help="dataset parameters key=value, e.g. max_mean_fd=0.2")]
    = None,
) -> None:
    """Build the ROI gradient table (diffusion map of a group FC) that positions ROIs in Brain-JEPA models."""
    with _command(json_path, "fmri gradients"):
        from biojepa.adapters.fmri.group import run_gradients

        result = run_gradients(
            out=out, fc=fc, data=data, subjects=_csv(subjects), sites=_csv(sites), params=_kv(params), k=k,
            sparsity=sparsity, alpha=alpha, reference=reference, tr_s=tr_s, atlas=atlas, progress=_echo,
        )
        _echo(f"table {result['out']} {result['shape'][0]} ROIs x {result['shape'][1]} gradients\n"
              f"sha256 {result['sha256']}\nuse it: model.overrides.tokenizer.args.roi_table={result['out']} "
              f"model.overrides.tokenizer.args.roi_table_sha256={result['sha256']}")
        if json_path is not None:
            _write_json(json_path, result)


for _name in sorted(c for c in PENDING if c.startswith("datasets ")):  # commands that have not landed yet
    datasets_app.command(
        _name.split()[1], context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )(_pending(_name))


# -- models ---------------------------------------------------------------------------------------------
@models_app.command("list")
def models_list(
    pattern: Annotated[str, typer.Argument(help="fnmatch pattern, e.g. 'ecg_*'")] = "*",
    json_path: JsonOpt = None,
) -> None:
    """List registered models."""
    with _command(json_path, "models list"):
        from biojepa.models import get_spec, list_models
        from biojepa.registry import MODELS

        rows = []
        for name in list_models(pattern):
            spec = get_spec(name)
            rows.append({
                "name": name, "modality": spec.modality, "dim": spec.encoder.dim, "depth": spec.encoder.depth,
                "summary": MODELS.entry(name).meta.get("summary", ""),
            })
        for r in rows:
            _echo(f"{r['name']:<24} {r['modality']:<10} dim={r['dim']:<4} depth={r['depth']:<3} {r['summary']}")
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "ok", "models": rows})


@models_app.command("info")
def models_info(
    name: Annotated[str, typer.Argument(help="a registered model name")],
    json_path: JsonOpt = None,
) -> None:
    """Show a model's architecture, parameter count and signal contract."""
    with _command(json_path, "models info"):
        from biojepa.models import build_jepa, get_spec

        spec = get_spec(name)
        jepa = build_jepa(spec)
        n_enc = sum(p.numel() for p in jepa.context_encoder.parameters())
        n_pred = sum(p.numel() for p in jepa.predictor.parameters())
        info = {"schema_version": 1, "status": "ok", **spec.model_dump(mode="json"),
                "n_params_encoder": n_enc, "n_params_predictor": n_pred}
        _echo(json.dumps(info, indent=2))
        if json_path is not None:
            _write_json(json_path, info)


# -- recipes --------------------------------------------------------------------------------------------
@recipes_app.command("list")
def recipes_list(pattern: Annotated[str, typer.Argument(help="fnmatch pattern")] = "*") -> None:
    """List shipped recipes."""
    with _command(None, "recipes list"):
        from biojepa.config import list_recipes, load_recipe

        for name in list_recipes(pattern):
            desc = load_recipe(name).get("description", "")
            _echo(f"{name:<24} {desc}")


@recipes_app.command("show")
def recipes_show(
    name: Annotated[str, typer.Argument(help="recipe name or YAML path")],
    overrides: OverridesArg = None,
) -> None:
    """Print a recipe, resolved and validated (with any key=value overrides applied)."""
    with _command(None, "recipes show"):
        import yaml

        from biojepa.config import config_hash, resolve_config

        cfg = resolve_config(name, list(overrides or []))
        _echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).rstrip())
        _echo(f"# config sha256: {config_hash(cfg)}")


# -- datasets -------------------------------------------------------------------------------------------
@datasets_app.command("list")
def datasets_list(json_path: JsonOpt = None) -> None:
    """List dataset cards and whether a reader is available in this build."""
    with _command(json_path, "datasets list"):
        from biojepa.data.cards import list_cards, load_card
        from biojepa.registry import DATASETS

        rows = []
        for ds_id in list_cards():
            card = load_card(ds_id)
            rows.append({"id": ds_id, "modality": card.modality, "title": card.title,
                         "license": card.license, "access": card.access, "reader": ds_id in DATASETS})
        for r in rows:
            flag = "" if r["reader"] else "  (card only: reader not available yet)"
            _echo(f"{r['id']:<20} {r['modality']:<10} {r['access']:<12} {r['title']}{flag}")
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "ok", "datasets": rows})


@datasets_app.command("info")
def datasets_info(ds_id: Annotated[str, typer.Argument(help="dataset id")], json_path: JsonOpt = None) -> None:
    """Print a dataset card."""
    with _command(json_path, "datasets info"):
        import yaml

        from biojepa.data.cards import load_card

        card = load_card(ds_id)
        _echo(yaml.safe_dump(card.model_dump(mode="json"), sort_keys=False).rstrip())
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "ok", "card": card.model_dump(mode="json")})


@datasets_app.command("prepare")
def datasets_prepare(
    ds_id: Annotated[str, typer.Argument(help="dataset id (`biojepa datasets list`)")],
    root: Annotated[Path, typer.Option("--root", help="the dataset folder")],
    sfreq: Annotated[float, typer.Option("--sfreq", help="model sampling rate to resample to (Hz)")] = 500.0,
    tr_s: Annotated[float, typer.Option("--tr-s", help="fMRI: the model's TR to resample to (s)")] = 2.2,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", help="cache root (default: $BIOJEPA_HOME/cache)")]
    = None,
    workers: Annotated[int, typer.Option(help="reader processes")] = 1,
    max_bad_fraction: Annotated[float, typer.Option("--max-bad-fraction", help="fail above this bad fraction")]
    = 0.05,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="rebuild an existing cache")] = False,
    progress: Annotated[str, typer.Option(help="auto | rich | plain | none")] = "auto",
    json_path: JsonOpt = None,
    params: Annotated[list[str] | None, typer.Argument(help="dataset parameters key=value, e.g. folds=1-6")] = None,
) -> None:
    """Read a dataset once into the memory-mapped cache that pretraining reuses (with a quarantine report)."""
    with _command(json_path, "datasets prepare"):

        from biojepa.data.sources import resolve_source
        from biojepa.engine.pretrain import default_cache_dir

        source = resolve_source(ds_id)
        if not hasattr(source, "prepare"):
            raise ConfigError(f"dataset {ds_id!r} is generated in memory; there is nothing to prepare")
        kv: dict[str, Any] = {"workers": workers, "max_bad_fraction": max_bad_fraction, **_kv(params)}
        rate: dict[str, float] = {"sfreq": sfreq}
        if source.card.modality == "fmri":  # fMRI caches are keyed by the model's TR, not a rate
            rate = {"tr_s": tr_s}
        elif tr_s != 2.2:
            raise ConfigError(f"--tr-s applies to fMRI datasets; {ds_id!r} is {source.card.modality}: use --sfreq")
        with _Progress(progress, f"prepare {ds_id}") as bar:
            res = source.prepare(root, cache_dir=cache_dir or default_cache_dir(), params=kv,
                                 progress=lambda k, n: bar(k, n), rebuild=rebuild, **rate)
        out = {"schema_version": 1, "status": "ok", "dataset": ds_id, **res.as_dict()}
        _echo(f"{ds_id}: {res.n_ok} records cached, {res.n_quarantined} quarantined "
              f"({'built' if res.built else 'reused'}) in {res.cache_path}")
        if res.n_quarantined:
            _echo(f"quarantine report: {res.cache_path / 'quarantine.csv'}")
        if json_path is not None:
            _write_json(json_path, out)


@datasets_app.command("verify")
def datasets_verify(
    ds_id: Annotated[str, typer.Argument(help="dataset id (`biojepa datasets list`)")],
    root: Annotated[Path, typer.Option("--root", help="the dataset folder")],
    out: Annotated[Path | None, typer.Option("--out", help="report folder (default: <cache dir>/verify/<ID>)")]
    = None,
    max_bad_fraction: Annotated[float, typer.Option("--max-bad-fraction", help="fail above this bad fraction")]
    = 0.01,
    progress: Annotated[str, typer.Option(help="auto | rich | plain | none")] = "auto",
    json_path: JsonOpt = None,
    params: Annotated[list[str] | None, typer.Option("-p", "--param", help="dataset parameter key=value "
                                                                          "(repeatable), e.g. -p folds=1-6")]
    = None,
) -> None:
    """Scan every record's header (no samples decoded); write index.csv + quarantine.csv; fail above the threshold."""
    with _command(json_path, "datasets verify"):
        from biojepa.data.verify import verify_dataset

        with _Progress(progress, f"verify {ds_id}") as bar:
            rep = verify_dataset(ds_id, root, out=out, max_bad_fraction=max_bad_fraction, params=_kv(params),
                                 progress=lambda k, n: bar(k, n))
        _echo(f"{ds_id}: {rep.n_records} records scanned, {rep.n_ok} ok, {rep.n_quarantined} quarantined "
              f"(fraction {rep.bad_fraction:.4f} <= max {rep.max_bad_fraction:g}); index {rep.index_path}")
        if rep.n_quarantined:
            _echo(f"quarantine report: {rep.quarantine_path}")
        if json_path is not None:
            _write_json(json_path, {"schema_version": 1, "status": "ok", **rep.as_dict()})


# -- bench ----------------------------------------------------------------------------------------------
@bench_app.command("engine")
def bench_engine(
    models: Annotated[
        list[str] | None, typer.Option("--model", help="model to time (repeatable)")
    ] = None,
    batch: Annotated[int | None, typer.Option(help="batch size (default 32 on CPU, 256 on CUDA)")] = None,
    steps: Annotated[int, typer.Option(help="timed steps (median reported)")] = 10,
    warmup: Annotated[int, typer.Option(help="untimed warm-up steps")] = 3,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
    keep: Annotated[float, typer.Option(help="fraction of tokens kept as context")] = 0.20,
    compile_: Annotated[bool, typer.Option("--compile", help="add torch.compile rows (slow warm-up)")] = False,
    device: Annotated[str, typer.Option(help="cpu | cuda | auto")] = "cpu",
    json_path: JsonOpt = None,
) -> None:
    """Time the full JEPA pretraining step (ECG-JEPA ViT-XS and ViT-S shapes by default)."""
    with _command(json_path, "bench engine"):
        from biojepa import bench

        kwargs: dict[str, Any] = {"batch": batch, "steps": steps, "warmup": warmup, "threads": threads,
                                  "keep": keep, "compile": compile_, "device": device}
        if models:
            kwargs["models"] = tuple(models)
        result = bench.run("engine", **kwargs)
        _echo(bench.format_table(result))
        if json_path is not None:
            _write_json(json_path, {"status": "ok", **result})


@bench_app.command("ecg")
def bench_ecg(
    models: Annotated[list[str] | None, typer.Option("--model", help="ECG model to time (repeatable)")] = None,
    records: Annotated[int, typer.Option(help="synthetic WFDB records written for the cache benchmark")] = 64,
    batch: Annotated[int, typer.Option(help="CPU training batch")] = 32,
    steps: Annotated[int, typer.Option(help="timed training steps (median reported)")] = 10,
    warmup: Annotated[int, typer.Option(help="untimed warm-up steps")] = 3,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (auto adds bf16 CUDA rows when available)")]
    = "auto",
    data_steps: Annotated[int, typer.Option("--data-steps", help="batches timed in the data stages")] = 50,
    build_repeats: Annotated[int, typer.Option("--build-repeats", help="timed cache builds")] = 3,
    cuda_batch: Annotated[int, typer.Option("--cuda-batch", help="batch of the bf16 CUDA rows")] = 256,
    json_path: JsonOpt = None,
) -> None:
    """ECG pipeline: cache build records/s, sampler crops/s, ECG-JEPA pretraining samples/s (and data/train ratio)."""
    with _command(json_path, "bench ecg"):
        from biojepa import bench

        kwargs: dict[str, Any] = {"n_records": records, "batch": batch, "steps": steps, "warmup": warmup,
                                  "threads": threads, "device": device, "data_steps": data_steps,
                                  "build_repeats": build_repeats, "cuda_batch": cuda_batch}
        if models:
            kwargs["models"] = tuple(models)
        result = bench.run("ecg", **kwargs)
        _echo(bench.format_table(result))
        if json_path is not None:
            _write_json(json_path, {"status": "ok", **result})


@bench_app.command("encode")
def bench_encode(
    models: Annotated[list[str] | None, typer.Option("--model", help="ECG model to time (repeatable)")] = None,
    records: Annotated[int, typer.Option(help="records per timed encode() call")] = 64,
    repeats: Annotated[int, typer.Option(help="timed calls (median reported)")] = 3,
    warmup: Annotated[int, typer.Option(help="untimed calls")] = 1,
    batch: Annotated[int, typer.Option(help="windows per forward pass (encode batch_size)")] = 64,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (auto adds CUDA rows when available)")] = "auto",
    cold_start: Annotated[bool, typer.Option("--cold-start/--no-cold-start", help="time a first call in a fresh "
                                                                               "process")] = True,
    json_path: JsonOpt = None,
) -> None:
    """biojepa.encode() throughput: records/s for 10-s 12-lead ECGs (ViT-XS, ViT-S) and the cold-start time."""
    with _command(json_path, "bench encode"):
        from biojepa import bench

        kwargs: dict[str, Any] = {"n_records": records, "repeats": repeats, "warmup": warmup, "batch": batch,
                                  "threads": threads, "device": device, "cold_start": cold_start}
        if models:
            kwargs["models"] = tuple(models)
        result = bench.run("encode", **kwargs)
        _echo(bench.format_table(result))
        if json_path is not None:
            _write_json(json_path, {"status": "ok", **result})


@bench_app.command("eeg")
def bench_eeg(
    models: Annotated[list[str] | None, typer.Option("--model", help="EEG model to time (repeatable)")] = None,
    batch: Annotated[int, typer.Option(help="CPU training batch")] = 32,
    steps: Annotated[int, typer.Option(help="timed steps (median reported)")] = 5,
    warmup: Annotated[int, typer.Option(help="untimed warm-up steps")] = 2,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (auto adds bf16 CUDA rows when available)")]
    = "auto",
    n_times: Annotated[int, typer.Option("--n-times", help="crop length in samples at 128 Hz")] = 2048,
    contexts: Annotated[list[int] | None, typer.Option("--contexts", help="masks per input (repeatable)")] = None,
    radius: Annotated[float, typer.Option(help="spatial block radius (head radii)")] = 0.4,
    cuda_batch: Annotated[int, typer.Option("--cuda-batch", help="batch of the bf16 CUDA rows")] = 32,
    json_path: JsonOpt = None,
) -> None:
    """S-JEPA pretraining-step samples/s and peak memory: 62 channels x 16 s at 128 Hz, 1 and 8 masks per input."""
    with _command(json_path, "bench eeg"):
        from biojepa import bench

        kwargs: dict[str, Any] = {"batch": batch, "steps": steps, "warmup": warmup, "threads": threads,
                                  "device": device, "n_times": n_times, "radius": radius, "cuda_batch": cuda_batch}
        if models:
            kwargs["models"] = tuple(models)
        if contexts:
            kwargs["contexts"] = tuple(contexts)
        result = bench.run("eeg", **kwargs)
        _echo(bench.format_table(result))
        if json_path is not None:
            _write_json(json_path, {"status": "ok", **result})


@bench_app.command("fmri")
def bench_fmri(
    models: Annotated[list[str] | None, typer.Option("--model", help="fMRI model to time on CPU (repeatable)")] = None,
    batch: Annotated[int | None, typer.Option(help="CPU batch of every row (default: ViT-S 1, tiny 8)")] = None,
    steps: Annotated[int | None, typer.Option(help="timed steps (default: ViT-S 3, tiny 5)")] = None,
    warmup: Annotated[int | None, typer.Option(help="untimed warm-up steps (default: ViT-S 1, tiny 2)")] = None,
    threads: Annotated[int, typer.Option(help="torch threads")] = 2,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda (auto adds bf16 CUDA rows when available)")]
    = "auto",
    cuda_models: Annotated[list[str] | None, typer.Option("--cuda-model", help="models of the bf16 CUDA rows")]
    = None,
    cuda_batch: Annotated[int, typer.Option("--cuda-batch", help="batch of the bf16 CUDA rows")] = 8,
    json_path: JsonOpt = None,
) -> None:
    """Brain-JEPA pretraining step: 450 ROIs x 160 frames (4,500 tokens) ViT-S at batch 1 and the tiny size at batch 8
    on CPU; ViT-S and ViT-B at batch 8 in bf16 on CUDA. Samples/s, peak memory, GFLOP/sample."""
    with _command(json_path, "bench fmri"):
        from biojepa import bench

        kwargs: dict[str, Any] = {"batch": batch, "steps": steps, "warmup": warmup, "threads": threads,
                                  "device": device, "cuda_batch": cuda_batch}
        if models:
            kwargs["models"] = tuple(models)
        if cuda_models:
            kwargs["cuda_models"] = tuple(cuda_models)
        result = bench.run("fmri", **kwargs)
        _echo(bench.format_table(result))
        if json_path is not None:
            _write_json(json_path, {"status": "ok", **result})


def main() -> None:
    """Console-script entry point (also ``python -m biojepa`` and ``torchrun -m biojepa``)."""
    global _OTHER_RANK
    rank = os.environ.get("RANK", "").strip()
    if rank not in ("", "0"):  # a torchrun worker other than rank 0: results and logs come from rank 0
        _OTHER_RANK = rank
        import logging

        logging.getLogger("biojepa").setLevel(logging.ERROR)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
