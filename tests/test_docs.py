"""README and docs stay true: the two commands, CI's use of them, and every command / snippet shown."""

from __future__ import annotations

import doctest
import importlib
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO_ROOT

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


def _marked_command(marker: str) -> str:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)\n```", text, flags=re.S)
    assert m, f"README.md lacks the {marker} block"
    return m.group(1).strip()


def test_readme_gives_the_two_commands() -> None:
    main = _marked_command("main-command")
    test = _marked_command("test-command")
    assert "\n" not in main and "\n" not in test, "each command is one line a user can paste"
    for cmd in (main, test):
        assert cmd.startswith("python3.11 -m venv .venv && ")
        assert "pip install -c constraints/ci.txt torch==2.13.0" in cmd
    assert main.endswith("biojepa pretrain ecg")
    assert '".[bio]"' in main and '".[bio,test]"' in test
    assert test.endswith('python -m pytest -m "not gpu and not full_env"')


def test_ci_runs_the_readme_commands_and_treats_no_tests_as_failure() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "readme_command test-command" in ci and "readme_command main-command" in ci
    assert '"$rc" -eq 5' in ci
    assert "BIOJEPA_REQUIRE_REALDATA=1" in ci


def test_constraints_pin_every_core_dependency() -> None:
    pins = {line.split("==")[0].lower() for line in (REPO_ROOT / "constraints" / "ci.txt").read_text().split()
            if "==" in line}
    for dep in ("torch", "numpy", "scipy", "pandas", "scikit-learn", "pydantic", "pyyaml", "typer", "rich",
                "safetensors", "wfdb", "h5py", "mne", "nilearn", "nibabel", "pytest", "hypothesis"):
        assert dep in pins, f"constraints/ci.txt does not pin {dep}"


def _doc_commands() -> list[tuple[str, list[list[str]]]]:
    out = []
    for path in DOC_FILES:
        cmds = []
        for block in _blocks(path.read_text(encoding="utf-8"), "bash"):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith("biojepa "):
                    cmds.append(shlex.split(line)[1:])
        if cmds:
            out.append((path.name, cmds))
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)  # every command of one page in sequence (benchmarks.md runs full benches): ~2.5 min quiet
@pytest.mark.parametrize(("doc", "commands"), _doc_commands(), ids=[d for d, _ in _doc_commands()])
def test_every_documented_cli_command_runs(doc: str, commands: list[list[str]], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from biojepa.cli import app
    from tests.conftest import shared_data_dir

    monkeypatch.chdir(tmp_path)
    if any("$BIOJEPA_SHARED_DATA" in a for args in commands for a in args):
        shared = shared_data_dir()  # documented test-scale commands run on the shared real recordings
        if shared is None:
            if os.environ.get("BIOJEPA_REQUIRE_REALDATA") == "1":
                pytest.fail(f"{doc} shows commands on $BIOJEPA_SHARED_DATA but the shared data was not found")
            pytest.skip(f"{doc} shows commands on $BIOJEPA_SHARED_DATA; the shared real data was not found")
        monkeypatch.setenv("BIOJEPA_SHARED_DATA", str(shared))
        commands = [[os.path.expandvars(a) for a in args] for args in commands]
    runner = CliRunner()
    for args in commands:
        res = runner.invoke(app, args)
        assert res.exit_code == 0, f"{doc}: `biojepa {' '.join(args)}` exited {res.exit_code}:\n{res.output}"


def _torchrun_commands() -> list[tuple[str, list[str]]]:
    """Every ``torchrun`` line of a bash block in README / docs (shell blocks are illustrative only)."""
    out = []
    for path in DOC_FILES:
        for block in _blocks(path.read_text(encoding="utf-8"), "bash"):
            for line in block.splitlines():
                line = line.split("  #")[0].strip()
                if line.startswith("torchrun "):
                    out.append((path.name, shlex.split(line)[1:]))
    return out


@pytest.mark.slow
@pytest.mark.distributed
@pytest.mark.parametrize(("doc", "args"), _torchrun_commands(), ids=[f"{d}-{i}" for i, (d, _) in enumerate(_torchrun_commands())])
def test_every_documented_torchrun_command_runs(doc: str, args: list[str], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # as on a fresh shell: torchrun gives each worker one thread when OMP_NUM_THREADS is unset (CI sets it to 2,
    # which would put 4 threads on 2 cores and slow the run several-fold)
    drop = {"BIOJEPA_FAULT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        pytest.fail(f"{doc}: `torchrun {' '.join(args)}` hung:\n{out[-3000:]}")
    assert proc.returncode == 0, f"{doc}: `torchrun {' '.join(args)}` exited {proc.returncode}:\n{out[-3000:]}"
    assert "done:" in out and out.count("done:") == 1  # rank 0 alone prints the result


def test_documented_torchrun_commands_are_found() -> None:
    docs = {d for d, _ in _torchrun_commands()}
    assert {"README.md", "reliability.md"} <= docs


def _doc_snippets() -> list[tuple[str, str]]:
    """All runnable python blocks of each doc file, joined in order (later blocks reuse earlier names)."""
    out = []
    for path in DOC_FILES:
        blocks = [b for b in _blocks(path.read_text(encoding="utf-8"), "python")
                  if not b.lstrip().startswith("# sketch")]
        if blocks:
            out.append((path.name, "\n".join(blocks)))
    return out


@pytest.mark.parametrize(("where", "code"), _doc_snippets(), ids=[w for w, _ in _doc_snippets()])
def test_documented_python_snippets_run(where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__doc_snippet__"})


DOCTEST_MODULES = [
    "biojepa.registry", "biojepa.config", "biojepa.models", "biojepa.io", "biojepa.api", "biojepa.data.signal",
]


@pytest.mark.parametrize("module", DOCTEST_MODULES)
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module} has no docstring example"
    assert result.failed == 0


def test_mkdocs_nav_lists_every_page_and_only_existing_pages() -> None:
    import yaml

    nav = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = {next(iter(item.values())) for item in nav}
    on_disk = {p.name for p in (REPO_ROOT / "docs").glob("*.md")}
    assert pages == on_disk
