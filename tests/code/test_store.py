"""Which model store and Prefect home a project uses (gra.store)."""

from __future__ import annotations

from gra.store import PROJECT_STORE, project_root, use_project_homes, use_project_store


def _project(tmp_path):
    (tmp_path / "params.yaml").write_text("{}")
    (tmp_path / "dvc.yaml").write_text("stages: {}")
    (tmp_path / "src" / "deep").mkdir(parents=True)
    return tmp_path


def test_the_project_is_found_from_any_folder_inside_it(tmp_path):
    root = _project(tmp_path)
    assert project_root(root / "src" / "deep") == root.resolve()
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    outside.mkdir()
    assert project_root(outside) == outside.resolve()


def test_the_store_is_the_projects_unless_bentoml_home_is_set(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    assert use_project_store(root / "src") == root.resolve() / PROJECT_STORE
    monkeypatch.setenv("BENTOML_HOME", "/srv/shared-store")
    assert str(use_project_store(root)) == "/srv/shared-store"


def test_prefect_home_defaults_to_the_project_and_is_created(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    use_project_homes(root)
    assert (root / ".gra" / "prefect").is_dir()
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "elsewhere" / "prefect"))
    use_project_homes(root)
    assert (tmp_path / "elsewhere" / "prefect").is_dir()


def test_a_dvc_experiment_in_a_temporary_copy_uses_the_checkouts_store(tmp_path, monkeypatch):
    """`dvc exp run --temp` runs the stages in .dvc/tmp/exps/...; DVC_ROOT names the checkout."""
    copy = tmp_path / "checkout" / ".dvc" / "tmp" / "exps" / "standalone" / "tmpabc"
    copy.mkdir(parents=True)
    root, copy = _project(tmp_path / "checkout"), _project(copy)
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("DVC_ROOT", str(root))
    assert use_project_store() == root.resolve() / PROJECT_STORE
    monkeypatch.delenv("BENTOML_HOME")
    monkeypatch.delenv("DVC_ROOT")
    assert use_project_store() == copy.resolve() / PROJECT_STORE
