"""The notebook chain: committed clean, parameterised with the paper's settings, executed by
papermill (quick profile). tests/test_colab.py re-executes each executed copy alone with nbval."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

import conftest
import nbformat
import pytest
import yaml
from conftest import glued, load_tool

from dae_utils.artifacts import PRETRAINED_DIR, read_json
from dae_utils.config import PAPER, PAPER_RESULTS
from dae_utils.recipes import get_recipe
from dae_utils.sample_quality import HEUN_STEPS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RUN_CHAIN = load_tool("run_chain")
QUICK = {key: value for key, value in RUN_CHAIN.PROFILES["quick"]["parameters"].items() if key != "ARTIFACTS_DIR"}
# Parameter names in the notebooks -> fields of dae_utils.config.PAPER.
PAPER_FIELDS = {
    "EPOCHS": "epochs",
    "BATCH_SIZE": "batch_size",
    "TRAIN_SIZE": "train_size",
    "NOISE_STD": "noise_std",
    "DROPOUT_RATE": "dropout_rate",
    "SEED": "seed",
    "TRAIN_NOISE_SEED": "train_noise_seed",
    "TEST_NOISE_SEED": "test_noise_seed",
    "EVAL_LIMIT": "eval_limit",
    "FILTERS": "filters",
    "KERNEL_SIZE": "kernel_size",
}
# Parameter names in the notebooks -> the package's defaults they must equal.
PACKAGE_DEFAULTS = {"SAMPLER_STEPS": HEUN_STEPS}


def _parameters(notebook: nbformat.NotebookNode) -> dict:
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1, "expected exactly one cell tagged 'parameters'"
    values = {}
    for node in ast.parse(cells[0].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell may only assign literals"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_the_chain_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]
    assert [f"notebooks/{path.stem}" for path in NOTEBOOKS] == [f for f in files if f.startswith("notebooks/")]
    assert [path.stem[:2] for path in NOTEBOOKS] == [f"{number:02d}" for number in range(1, len(NOTEBOOKS) + 1)]


def test_the_chain_schedule_names_chapters_that_exist():
    stems = {path.stem for path in NOTEBOOKS}
    assert set(RUN_CHAIN.NEEDS) | set(RUN_CHAIN.NEEDS.values()) | set(RUN_CHAIN.TIMED) <= stems


def test_two_notebooks_run_at_once_but_a_timed_one_alone_and_a_dependent_one_after_its_source():
    job = RUN_CHAIN._Job  # only the name matters to the schedule

    def may_start(name, running, unfinished=(), jobs=2, alone=("03_training",)):
        candidate = job(ROOT / "notebooks" / f"{name}.ipynb", {}, "", Path(), Path())
        busy = {other: job(ROOT / f"{other}.ipynb", {}, "", Path(), Path()) for other in running}
        return RUN_CHAIN._may_start(candidate, busy, set(unfinished), jobs=jobs, alone=set(alone))

    assert may_start("01_data_and_noise", [])
    assert may_start("02_architecture", ["01_data_and_noise"])
    assert not may_start("05_classical_baselines", ["01_data_and_noise", "02_architecture"])  # both slots taken
    assert not may_start("05_classical_baselines", ["01_data_and_noise"], jobs=1)
    assert not may_start("03_training", ["01_data_and_noise"])  # timed: waits for an idle machine
    assert may_start("03_training", [])
    assert not may_start("05_classical_baselines", ["03_training"])  # nothing beside a timed one
    assert may_start("05_classical_baselines", ["03_training"], alone=())  # the quick profile times nothing
    assert not may_start("04_evaluation", [], unfinished=["03_training"])  # it needs chapter 3's model
    assert may_start("04_evaluation", ["01_data_and_noise"], unfinished=["01_data_and_noise"])


def test_editing_one_chapter_re_executes_it_and_the_chapter_that_needs_it_only(tmp_path, monkeypatch):
    names = ["03_training", "04_evaluation", "05_classical_baselines"]
    (tmp_path / "dae_utils").mkdir()
    (tmp_path / "dae_utils" / "module.py").write_text("VALUE = 1\n")
    (tmp_path / "notebooks").mkdir()
    toc = {"parts": [{"chapters": [{"file": f"notebooks/{name}"} for name in names]}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    for name in names:
        cell = nbformat.v4.new_code_cell("EPOCHS = 15", metadata={"tags": ["parameters"]})
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "notebooks" / f"{name}.ipynb")
    monkeypatch.setattr(RUN_CHAIN, "ROOT", tmp_path)

    def stamps():
        return {notebook.stem: stamp for notebook, _, stamp in RUN_CHAIN._stamps("paper")}

    before = stamps()
    chapter_3 = tmp_path / "notebooks" / "03_training.ipynb"
    edited = nbformat.read(chapter_3, as_version=4)
    edited.cells.append(nbformat.v4.new_markdown_cell("A new paragraph."))
    nbformat.write(edited, chapter_3)
    after = stamps()
    assert [name for name in names if after[name] != before[name]] == ["03_training", "04_evaluation"]
    (tmp_path / "dae_utils" / "module.py").write_text("VALUE = 2\n")  # the package: every chapter
    assert all(stamps()[name] != after[name] for name in names)


def test_the_long_chapters_start_first_and_the_others_keep_their_order():
    jobs = [RUN_CHAIN._Job(path, {}, "", Path(), Path()) for path in NOTEBOOKS]
    names = [job.name for job in RUN_CHAIN.in_start_order(jobs)]
    timed = [path.stem for path in NOTEBOOKS if path.stem in RUN_CHAIN.TIMED]
    assert names == timed + [path.stem for path in NOTEBOOKS if path.stem not in RUN_CHAIN.TIMED]
    assert names[0] == "03_training"


@pytest.mark.parametrize(
    ("source", "options", "starts"),
    [
        (pytest.Config.ArgsSource.TESTPATHS, {}, True),  # make test: the whole suite
        (pytest.Config.ArgsSource.ARGS, {}, False),  # pytest tests/test_data.py
        (pytest.Config.ArgsSource.TESTPATHS, {"markexpr": "not slow"}, False),  # make test-fast
        (pytest.Config.ArgsSource.TESTPATHS, {"keyword": "psnr"}, False),
        (pytest.Config.ArgsSource.TESTPATHS, {"collectonly": True}, False),
        (pytest.Config.ArgsSource.TESTPATHS, {"lf": True}, False),  # --last-failed
        (pytest.Config.ArgsSource.TESTPATHS, {"deselect": ["tests/test_book.py"]}, False),
    ],
)
def test_the_chain_starts_before_collection_only_when_the_whole_suite_runs(monkeypatch, source, options, starts):
    started = []
    monkeypatch.setattr(conftest, "start_quick_chain", lambda: started.append(True))
    option = SimpleNamespace(**({"collectonly": False, "markexpr": "", "keyword": ""} | options))
    conftest.pytest_collection(SimpleNamespace(config=SimpleNamespace(args_source=source, option=option)))
    assert bool(started) is starts


def test_notebooks_that_run_at_once_share_the_cores_and_an_explicit_setting_wins(monkeypatch):
    for name in RUN_CHAIN.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert set(RUN_CHAIN.thread_share(2, cores=16).values()) == {"8"}
    assert set(RUN_CHAIN.thread_share(1, cores=16).values()) == {"16"}
    assert set(RUN_CHAIN.thread_share(3, cores=2).values()) == {"1"}  # never none
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    shares = RUN_CHAIN.thread_share(2, cores=2)
    assert shares["OMP_NUM_THREADS"] == "2" and shares["TF_NUM_INTRAOP_THREADS"] == "1"
    with pytest.raises(ValueError, match=r"Received: jobs=0"):
        RUN_CHAIN.thread_share(0)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_the_chain_says_what_a_bad_jobs_count_was(jobs):
    with pytest.raises(ValueError, match=r"Expected jobs to be a positive integer\. Received: jobs="):
        RUN_CHAIN.check_jobs(jobs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_clean_and_follows_the_format(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.metadata.get("accelerator") == "GPU"  # Colab offers a GPU runtime
    assert "Learning objectives" in notebook.cells[0].source and "**Time:**" in notebook.cells[0].source
    assert "## Exercises" in "".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_each_package_default_names_a_parameter_of_some_chapter():
    names = set().union(*(_parameters(nbformat.read(path, as_version=4)) for path in NOTEBOOKS))
    assert set(PACKAGE_DEFAULTS) <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameter_defaults_are_the_papers_settings(path):
    values = _parameters(nbformat.read(path, as_version=4))
    for name, value in values.items():
        if name in PAPER_FIELDS:
            assert value == getattr(PAPER, PAPER_FIELDS[name]), f"{name} differs from dae_utils.config.PAPER"
        if name in PACKAGE_DEFAULTS:
            assert value == PACKAGE_DEFAULTS[name], f"{name} differs from the package's default"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_used_by_the_chapters_code(path):
    notebook = nbformat.read(path, as_version=4)
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code" and cell not in parameters)
    unused = [name for name in _parameters(notebook) if not re.search(rf"\b{name}\b", code)]
    assert not unused, f"{path.name}: parameters that no cell reads (a reader would set them for nothing): {unused}"


def test_every_setup_cell_is_the_same_and_installs_from_the_books_repository():
    sync = load_tool("sync_setup_cells")
    expected = sync.setup_source(sync.install_address())
    for path in NOTEBOOKS:
        setup = nbformat.read(path, as_version=4).cells[sync.SETUP_CELL_INDEX]
        assert setup.source == expected, f"{path.name}: run `python tools/sync_setup_cells.py`"
        assert "hide-cell" in setup.metadata["tags"]
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert f'git+{config["repository"]["url"]}@{config["repository"]["branch"]}"' in expected  # pinned by _config.yml
    assert 'find_spec("dae_utils") is None' in expected  # never reinstalls over an existing copy


# --------------------------------------------------------------------- executed (quick profile)


def _executed(quick_chain: Path) -> list[Path]:
    return sorted((quick_chain / "executed" / "notebooks").glob("*.ipynb"))


@pytest.mark.notebooks
def test_the_quick_chain_ran_every_cell_without_error(quick_chain):
    executed = _executed(quick_chain)
    assert [path.name for path in executed if not path.name.endswith(".partial.ipynb")] == [p.name for p in NOTEBOOKS]
    for path in executed:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.execution_count is not None, f"{path.name}: a cell did not run"
                assert not [o for o in cell.outputs if o.output_type == "error"], f"{path.name}: error output"
    training = nbformat.read(quick_chain / "executed" / "notebooks" / "03_training.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in training.cells if c.cell_type == "code" for o in c.outputs)
    assert text.count("epoch ") >= QUICK["EPOCHS"], "one log line per epoch"
    assert "\r" not in text and "━" not in text, "no progress bars in the book"
    manifest = read_json(quick_chain / "artifacts" / "paper_autoencoder.json")
    assert manifest["recipe"]["epochs"] == QUICK["EPOCHS"] and manifest["data"]["fit_images"] == QUICK["TRAIN_SIZE"]
    evaluation = glued(quick_chain / "executed" / "notebooks" / "04_evaluation.ipynb")
    assert evaluation["model_source"] == "chapter 3's run"  # chapter 4 evaluated what chapter 3 trained
    assert (evaluation["paper_psnr"], evaluation["paper_ssim"]) == (PAPER_RESULTS["psnr"], PAPER_RESULTS["ssim"])


@pytest.mark.notebooks
def test_the_chapters_past_the_paper_glued_their_results(quick_chain):
    executed = quick_chain / "executed" / "notebooks"
    better = glued(executed / "07_better_denoisers.ipynb")
    assert better["recipe_minutes_min"] <= better["recipe_minutes_max"]
    assert {"unet_gain", "paper_mse_gain", "residual_gain", "mse_max_output"} <= set(better)
    budget = glued(executed / "08_more_budget.ipynb")
    chosen = read_json(PRETRAINED_DIR / "best_denoiser.json")["chosen"]
    assert budget["best_title"] == get_recipe(chosen).title and budget["best_macs_ratio"] > 1
    robustness = glued(executed / "09_robustness.ipynb")
    assert {"blind_gain_low", "fashion_own_psnr", "fashion_on_digits_psnr"} <= set(robustness)


@pytest.mark.notebooks
def test_every_solution_with_code_was_executed_in_the_quick_chain(quick_chain):
    """Solutions with code are gated (solution-start ... solution-end), so their cells run in the chain;
    a plain {solution} directive may hold prose only."""
    executed_solutions = 0
    for path in NOTEBOOKS:
        notebook = nbformat.read(quick_chain / "executed" / "notebooks" / path.name, as_version=4)
        inside = False
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                assert "```python" not in cell.source, f"{path.name}: code in a prose solution is never run"
                start, end = cell.source.rfind("{solution-start}"), cell.source.rfind("{solution-end}")
                if start != end:  # one of them is in this cell: the later one decides
                    inside = start > end
            elif inside:
                assert cell.execution_count is not None, f"{path.name}: a solution cell did not run"
                assert not [o for o in cell.outputs if o.output_type == "error"], f"{path.name}: a solution failed"
                executed_solutions += 1
    assert executed_solutions >= len(NOTEBOOKS)


def test_staging_hides_what_only_feeds_glue_and_keeps_the_glued_values(tmp_path):
    glued_value = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "0.5"},
        metadata={"scrapbook": {"name": "half", "mime_prefix": "application/papermill.record/"}},
    )
    shown = nbformat.v4.new_code_cell("x = 1\nprint(x)")
    only_glue = nbformat.v4.new_code_cell('half = x / 2\nglue("half", half)')
    only_glue.outputs = [glued_value]
    executed, staged = tmp_path / "executed.ipynb", tmp_path / "staged.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[shown, only_glue]), executed)
    RUN_CHAIN.stage_notebook(executed, staged, {})
    cells = nbformat.read(staged, as_version=4).cells
    assert cells[0].source == "x = 1\nprint(x)"
    assert cells[1].source == "" and "remove-input" in cells[1].metadata["tags"]  # its output is the glued value
    assert cells[1].outputs[0]["metadata"]["scrapbook"]["name"] == "half"
    RUN_CHAIN.stage_notebook(executed, staged, {}, student=True)  # the student edition keeps the values too
    assert nbformat.read(staged, as_version=4).cells[1].outputs[0]["metadata"]["scrapbook"]["name"] == "half"


def test_the_site_source_pages_are_staged_new_so_pages_that_paste_glued_values_are_rendered_again(
    tmp_path, monkeypatch
):
    """Sphinx re-reads only sources newer than its last read: the intro and the instructor guide,
    which paste chapters' values, must look new on every build, or an incremental build keeps old values."""
    import os
    import subprocess
    import time

    root = tmp_path / "repository"  # a checkout whose book page is a day old
    (root / "book").mkdir(parents=True)
    for name in ("_toc.yml", "_config.yml", "book/instructor_guide.md"):
        (root / name).write_bytes((RUN_CHAIN.ROOT / name).read_bytes())
    day_ago = time.time() - 86_400
    os.utime(root / "book" / "instructor_guide.md", (day_ago, day_ago))
    monkeypatch.setattr(RUN_CHAIN, "ROOT", root)
    monkeypatch.setitem(RUN_CHAIN.PROFILES, "test", {"build_dir": "build", "site_parent": "."})
    monkeypatch.setattr(RUN_CHAIN, "copy_mathjax", lambda target: None)
    monkeypatch.setattr(RUN_CHAIN, "build_demos", lambda target, build: None)
    monkeypatch.setattr(RUN_CHAIN, "chain_notebooks", lambda: [])
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: None)
    started = time.time()
    RUN_CHAIN.build_site("test")
    staged = root / "build" / "site-source" / "book" / "instructor_guide.md"
    assert staged.read_bytes() == (root / "book" / "instructor_guide.md").read_bytes()
    assert os.path.getmtime(staged) >= started - 1  # not the source's own, older, time


def test_the_student_edition_drops_a_gated_solution_and_nothing_else():
    gate = "```{solution-start} ex-1\n:class: dropdown\n```\n"
    cells = [
        nbformat.v4.new_markdown_cell("Exercise text.\n\n" + gate),
        nbformat.v4.new_code_cell("answer = 42"),
        nbformat.v4.new_markdown_cell("Reading of the answer.\n\n```{solution-end}\n```\n\nMain text again."),
        nbformat.v4.new_code_cell(""),
    ]
    cells[1].outputs = [nbformat.v4.new_output("stream", text="42")]
    cells[3].outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "glued"})]
    kept = RUN_CHAIN.strip_gated_solutions(cells)
    assert [cell.source.strip() for cell in kept] == ["Exercise text.", "Main text again.", ""]


def test_the_demos_need_the_npm_runtime_and_say_what_to_install(tmp_path, monkeypatch):
    run_chain = load_tool("run_chain")
    monkeypatch.setattr(run_chain, "ROOT", tmp_path)  # a checkout where `npm ci` has not run
    with pytest.raises(SystemExit, match=r"Node\.js 18 or newer with npm"):
        run_chain.build_demos(tmp_path / "demos", tmp_path / "build")
    assert not (tmp_path / "demos").exists()


def test_the_demos_files_are_stored_gzipped_and_inflate_to_the_same_bytes(tmp_path):
    import gzip

    source = tmp_path / "model.onnx"
    source.write_bytes(bytes(range(256)) * 64 + b"\x00" * 4096)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    stored = RUN_CHAIN.write_gzipped(source, first)
    assert stored == first / "model.onnx.gz" and gzip.decompress(stored.read_bytes()) == source.read_bytes()
    assert stored.stat().st_size < source.stat().st_size
    # no timestamp or file name inside: the same file gives the same bytes in every build
    assert RUN_CHAIN.write_gzipped(source, second).read_bytes() == stored.read_bytes()
