"""Step 7: promote the winners only if they clear the floors and beat the current champion,
both measured on the same, current test split."""

from __future__ import annotations

from dataclasses import dataclass, field

from gra.artifacts import read_features, read_json, read_table, task_data, write_json
from gra.config import Settings
from gra.errors import GateFailed, OutdatedModel, UserError
from gra.evaluation import score
from gra.features.pipeline import featurize
from gra.monitoring.reference import REFERENCE_FILE, build_reference
from gra.registry import (
    Champion,
    Promotion,
    build_bundle,
    bundle_identity,
    current_champion,
    current_tag,
    promote,
)
from gra.steps.evaluate import winner_metrics


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    comparison: dict = field(default_factory=dict)
    tag: str | None = None
    promotion: Promotion | None = None


def run(settings: Settings) -> GateResult:
    evaluation = read_json(settings.paths.reports / "evaluation.json")
    splits = read_table(settings.paths.splits, "split")
    features = read_features(settings.paths.features)
    result = GateResult(passed=True)
    try:
        champion = current_champion(settings.gate.model_name)
    except OutdatedModel:
        # Saved before GRA's models became scikit-learn estimators: it cannot be re-scored, so
        # there is nothing to compare with; the floors still apply. It stays in the store.
        champion = None
        result.comparison["outdated_champion"] = {
            "tag": current_tag(settings.gate.model_name),
            "note": "saved by an earlier GRA: it cannot be re-scored, so it was not compared",
        }
    champion_scores = _rescore(champion, settings, splits) if champion else {}
    for task, r in evaluation["tasks"].items():
        metric = r["select_metric"]
        test = r["candidates"][r["winner"]]["test"]
        row = {"winner": r["winner"], "candidate": {metric: test[metric]}}
        limits = {**settings.gate.min_test.get(task, {}), **settings.gate.max_test.get(task, {})}
        unknown = sorted(set(limits) - set(test))
        if unknown:
            known = ", ".join(k for k in test if k not in ("n", "per_class"))
            raise UserError(f"gate limits name unknown {task} metrics {unknown}; use: {known}")
        for name, floor in settings.gate.min_test.get(task, {}).items():
            if test[name] < floor:
                result.reasons.append(f"{task}: test {name} {test[name]:.4f} < floor {floor}")
        for name, ceiling in settings.gate.max_test.get(task, {}).items():
            if test[name] > ceiling:
                result.reasons.append(f"{task}: test {name} {test[name]:.4f} > ceiling {ceiling}")
        if task in champion_scores:
            best = champion_scores[task][metric]
            row["champion"] = {metric: best, "tag": champion.tag}
            if settings.gate.beat_champion and test[metric] < best - settings.gate.tolerance:
                result.reasons.append(
                    f"{task}: test {metric} {test[metric]:.4f} is below the champion "
                    f"{champion.tag} ({best:.4f}) on the same test split"
                )
        result.comparison[task] = row
    result.passed = not result.reasons

    # The bundle is built either way: `models/bundle` is the candidate the gate judged (a DVC
    # output, so it must exist after a refusal recorded with `gra gate --exit-zero`).
    winners = {t: r["winner"] for t, r in evaluation["tasks"].items()}
    metrics = winner_metrics(evaluation)
    bundle = build_bundle(
        settings, winners, features.feature_columns, metrics, settings.paths.models / "bundle"
    )
    if result.passed:
        challenger = Champion.from_directory(bundle)
        reference = build_reference(
            challenger.predict_features,
            challenger.info["tasks"],
            splits,
            features,
            settings.monitoring.reference_rows,
            settings.train.seed,
        )
        reference.to_parquet(bundle / REFERENCE_FILE, index=False)
        reason = {"gate": "passed", "comparison": result.comparison}
        # Idempotent: the same candidates judged again (DVC restored the stages before this
        # one from its run cache, an experiment went back to earlier params) never add a
        # second copy; the store is checked, not the previous run's report.
        result.promotion = promote(bundle, settings.gate.model_name, reason)
        result.tag = result.promotion.tag
    write_json(
        settings.paths.reports / "gate.json",
        {
            "passed": result.passed,
            "reasons": result.reasons,
            "comparison": result.comparison,
            "promoted": result.tag,
            # "new", "reused" (an earlier champion's model, pointer moved back to it),
            # "already champion" (nothing changed); null when refused
            "promotion": result.promotion.how if result.promotion else None,
            "candidate": bundle_identity(bundle),
        },
    )
    if not result.passed:
        raise GateFailed(
            "evaluation gate failed, nothing promoted:\n  " + "\n  ".join(result.reasons)
        )
    return result


def _rescore(champion: Champion, settings: Settings, splits) -> dict[str, dict]:
    """The champion's scores on today's test split, featurised with the champion's settings."""
    test_rows = splits[splits["split"] == "test"]
    table = featurize(test_rows, champion.audio, champion.feature_settings, settings.paths.cache)
    if len(test_rows) and table.vectors.empty:
        reasons = table.quarantine["reason"].head(3).tolist()
        raise UserError(
            f"none of the {len(test_rows)} test clips could be featurised to re-score the "
            f"champion {champion.tag} (for example: {reasons}); check that data.sources still "
            "point at the clips"
        )
    out = {}
    for task in champion.models:
        classes = champion.info["tasks"][task]["classes"]
        data = task_data(splits, table, task, "test", classes)
        proba = champion.predict_features(data.X)[task]
        out[task] = score(data.y, proba, classes, ordinal=task == "age")
    return out
