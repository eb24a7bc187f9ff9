"""Promotion is idempotent and checks the store (gra.registry.promote), in a real BentoML store:
the same bundle never becomes a second model, an earlier champion's bundle gets the pointer
back, a stored model whose files no longer match is not reused, and rollback follows the
pointer's real order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# BentoML reads BENTOML_HOME once per process: each scenario runs in its own interpreter.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from gra import registry

    from sklearn.linear_model import LogisticRegression
    from gra.models.task_model import TaskModel

    def bundle(folder, C, commit=sys.argv[2]):
        folder = Path(folder)
        fitted = LogisticRegression(C=C).fit([[0.0], [1.0], [0.2], [0.9]], [0, 1, 0, 1])
        TaskModel("logreg", ["female", "male"], False, fitted).save(folder / "gender")
        info = {"tasks": {"gender": {"family": "logreg", "classes": ["female", "male"]}},
                "columns": ["a"], "audio": {}, "featurize": {}, "settings_key": "k",
                "metrics": {"gender": {"winner": "logreg", "balanced_accuracy": 0.9}},
                "params": "p", "data_version": "d", "git_commit": commit}
        (folder / "bundle.json").write_text(json.dumps(info))
        return folder

    root = Path(sys.argv[1])
    a, b = bundle(root / "a", 1.0), bundle(root / "b", 2.0)
    out = [registry.promote(a, "gra").__dict__, registry.promote(a, "gra").__dict__,
           registry.promote(b, "gra").__dict__]
    # The same models from another commit: provenance is not identity.
    out.append(registry.promote(bundle(root / "a2", 1.0, "def456"), "gra").__dict__)
    out.append(list(registry.rollback("gra")))
    # A stored copy whose files changed is not reused: a new model is saved.
    import bentoml
    stored = Path(bentoml.models.get(out[0]["tag"]).path)
    (stored / "gender" / "model.joblib").write_bytes(b"damaged")
    out.append(registry.promote(a, "gra").__dict__)
    out.append(registry.champion_record("gra"))
    print(json.dumps(out))
    """
)


def test_promotion_is_idempotent_and_checks_the_store(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "store"), "BENTOML_DO_NOT_TRACK": "true"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), "abc123"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    first, same, other, again, rolled, after_damage, record = json.loads(proc.stdout)
    a, b = first["tag"], other["tag"]
    assert first["how"] == "new" and other["how"] == "new" and a != b
    assert same == {"tag": a, "how": "already champion", "replaced": a}
    assert again == {"tag": a, "how": "reused", "replaced": b}
    assert rolled == [a, b]  # back to the champion before A's latest promotion
    assert after_damage["how"] == "new" and after_damage["tag"] not in (a, b)
    events = [(e["event"], e["tag"], e.get("reused", False)) for e in record["history"]]
    assert events == [
        ("promoted", a, False),
        ("promoted", b, False),
        ("promoted", a, True),
        ("rollback", b, False),
        ("promoted", after_damage["tag"], False),
    ]
    stored = sorted(p.name for p in (tmp_path / "store" / "models" / "gra").iterdir() if p.is_dir())
    assert len(stored) == 3
    assert Path(tmp_path / "store" / "champions" / "gra.json").exists()
