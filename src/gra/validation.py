"""Great Expectations suites that check data before the pipeline trusts it.

The suites live as files in a GX file data context under the project (``gx/``):

* ``gx/expectations/manifest.json``: one row per clip (labels, duration, the audio file exists);
* ``gx/expectations/features.json``: the per-clip vector table (exact columns, unique ids);
* ``gx/expectations/feature_values.json``: every feature value, one row per (clip, feature)
  cell: not NaN, not inf, ``|value| < MAX_ABS_FEATURE``.

:func:`suite_expectations` builds them from ``params.yaml`` (label vocabularies, min/max
seconds); :func:`open_project` writes them to the suite files when params changed (a suite file
is generated, never edited by hand), then the stage's checkpoints run on the stored suites, GX
keeps each validation result (``gx/uncommitted/validations/``) and builds the stage's Data Docs
site under ``<paths.reports>/data_docs/<stage>/``, made to open offline (:func:`_offline`).

Each run gives a :class:`ValidationReport` whose :meth:`~ValidationReport.summary` names the
column, the bad values and the clip ids of every failed check. :func:`raise_for_failures` turns a
failed report into a :class:`~gra.errors.DataValidationError` (shown to users without traceback).
Without a project (``project=None``) the same suites run on an in-memory (ephemeral) context.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gra.config import Settings
from gra.data.labels import AGE_GROUPS as _AGE_GROUPS
from gra.data.labels import GENDERS as _GENDERS
from gra.data.sources import MANIFEST_COLUMNS
from gra.errors import DataValidationError

# One vocabulary for the whole project: the readers define it, the suites check against it.
GENDERS = list(_GENDERS)
CV_AGE_GROUPS = list(_AGE_GROUPS)
SPLIT_HINTS = ["train", "dev", "test"]
MAX_ABS_FEATURE = 1e6

GX_FOLDER = "gx"  # the file data context, at the project root
DATASOURCE = "gra"  # pandas; one dataframe asset per suite, each with one batch definition
BATCH = "whole_table"
SUITES = ("manifest", "features", "feature_values")
# One Data Docs site per pipeline stage: two DVC stages cannot share an output folder.
SITE_SUITES = {"manifest": ("manifest",), "features": ("features", "feature_values")}
FEATURE_COLUMNS = "feature_table_columns"  # suite parameter: the columns featurize wrote
VENDOR = Path("plugins/custom_data_docs/static/vendor")  # in the gx folder: offline assets
GENERATED_NOTE = (
    "Generated from params.yaml by gra.validation.suite_expectations: `gra validate` rewrites "
    "this file when params.yaml or that function change. Edit those, not this file."
)

# Helper columns added to the copy that GX validates.
ROW_ID = "row_id"  # clip_id, or "row <i>" where it is missing: how failures name rows
FILE_EXISTS = "file_exists"  # GX has no expectation for "this path exists"
FEATURE = "feature"  # feature_values: the feature column of a cell
VALUE = "value"  # feature_values: its value (text cells read as NaN)

_SHOW = 5  # bad values / row ids shown per failed check
_BLOCK_CELLS = 2_000_000  # feature cells per feature_values batch (bounds its memory)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation."""

    expectation: str
    column: str | None
    success: bool
    detail: str


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one suite (or, for features, two) on one table."""

    suite: str
    success: bool
    rows: int
    checks: list[CheckResult] = field(default_factory=list)
    data_docs: str | None = None  # index.html of the stage's Data Docs site, when built

    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success]

    def to_dict(self) -> dict:
        return {
            "suite": self.suite,
            "success": self.success,
            "rows": self.rows,
            "checks_total": len(self.checks),
            "checks_failed": len(self.failures()),
            "checks": [asdict(c) for c in self.checks],
            "data_docs": self.data_docs,
        }

    def summary(self) -> str:
        failed = self.failures()
        if self.success:
            return (
                f"Data validation '{self.suite}': passed "
                f"({len(self.checks)} checks on {self.rows} rows)."
            )
        lines = [
            f"Data validation '{self.suite}': FAILED "
            f"({len(failed)} of {len(self.checks)} checks failed on {self.rows} rows)"
        ]
        for check in failed:
            where = f" [column {check.column}]" if check.column else ""
            lines.append(f"  - {check.expectation}{where}: {check.detail}")
        if self.data_docs:
            lines.append(f"  Data Docs: {self.data_docs}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the suites


def suite_expectations(settings: Settings) -> dict[str, list]:
    """Every expectation of every suite, from params.yaml: the one place they are defined."""
    e = _gx().expectations
    gender_set = _union(GENDERS, settings.labels.gender)
    age_set = _union(CV_AGE_GROUPS, settings.labels.age, settings.labels.age_merge)
    return {
        "manifest": [
            e.ExpectTableColumnsToMatchSet(column_set=list(MANIFEST_COLUMNS), exact_match=False),
            e.ExpectTableRowCountToBeBetween(min_value=1),
            e.ExpectColumnValuesToNotBeNull(column="clip_id"),
            e.ExpectColumnValuesToBeUnique(column="clip_id"),
            *(e.ExpectColumnValuesToNotBeNull(column=c) for c in ("path", "client_id")),
            *(e.ExpectColumnValuesToNotBeNull(column=c) for c in ("gender", "age")),
            e.ExpectColumnValuesToBeInSet(column="gender", value_set=gender_set),
            e.ExpectColumnValuesToBeInSet(column="age", value_set=age_set),
            # Nulls pass: an unreadable header is quarantined by featurize, not fatal.
            e.ExpectColumnValuesToBeBetween(
                column="duration",
                min_value=float(settings.data.min_seconds),
                max_value=float(settings.data.max_seconds),
            ),
            e.ExpectColumnValuesToBeInSet(column="split_hint", value_set=SPLIT_HINTS),
            e.ExpectColumnValuesToBeInSet(
                column=FILE_EXISTS,
                value_set=[True],
                description="Every `path` is an existing file (`file_exists`, added by gra).",
            ),
        ],
        "features": [
            e.ExpectTableColumnsToMatchSet(
                column_set={"$PARAMETER": FEATURE_COLUMNS}, exact_match=True
            ),
            e.ExpectTableRowCountToBeBetween(min_value=1),
            e.ExpectColumnValuesToNotBeNull(column="clip_id"),
            e.ExpectColumnValuesToBeUnique(column="clip_id"),
        ],
        # One row per (clip, feature) cell: two expectations cover every feature column.
        "feature_values": [
            e.ExpectColumnValuesToNotBeNull(column=VALUE),  # NaN (and text) cells
            e.ExpectColumnValuesToBeBetween(  # inf and huge cells
                column=VALUE,
                min_value=-MAX_ABS_FEATURE,
                max_value=MAX_ABS_FEATURE,
                strict_min=True,
                strict_max=True,
            ),
        ],
    }


def suite_configs(settings: Settings) -> dict[str, list[dict]]:
    """suite_expectations as plain dicts (type, kwargs, description): what a suite file holds."""
    return {name: [_config(x) for x in exps] for name, exps in suite_expectations(settings).items()}


def stored_suite_configs(project_root: Path) -> dict[str, list[dict]]:
    """The same dicts read from the suite files under project_root/gx/expectations/."""
    folder = Path(project_root) / GX_FOLDER / "expectations"
    out = {}
    for name in SUITES:
        path = folder / f"{name}.json"
        if path.exists():
            stored = json.loads(path.read_text())
            out[name] = [_config(x) for x in stored.get("expectations", [])]
    return out


def _config(expectation: Any) -> dict:
    if not isinstance(expectation, dict):
        expectation = expectation.configuration.to_json_dict()
    return {
        "type": expectation["type"],
        "kwargs": expectation.get("kwargs", {}),
        "description": expectation.get("description"),
    }


# --------------------------------------------------------------------------- the GX project


@dataclass
class GxProject:
    """The file data context under <root>/gx, its suites up to date with params.yaml."""

    context: Any
    root: Path
    docs_root: Path  # <paths.reports>/data_docs: one site folder per stage in it
    refreshed: list[str]  # files open_project rewrote (suites, the site paths in the config)


_PROJECTS: dict[Path, GxProject] = {}  # one context per folder and process (GX starts slowly)
_EPHEMERAL: list[Any] = []


def open_project(settings: Settings, root: Path | None = None) -> GxProject:
    """Open (or create) the file data context at <root>/gx and bring it up to date: suites from
    params, the data source, validation definitions, checkpoints and one Data Docs site per
    stage under <paths.reports>/data_docs/. Only what differs is written, so with params
    unchanged the committed files stay as they are."""
    root = Path(root if root is not None else Path.cwd()).resolve()
    docs_root = _under(root, Path(settings.paths.reports)) / "data_docs"
    project = _PROJECTS.get(root)
    if project is None:
        gx = _gx()
        context = gx.get_context(mode="file", project_root_dir=str(root))
        project = GxProject(context, root, docs_root, [])
        _PROJECTS[root] = project
    project.docs_root = docs_root
    project.refreshed = _sync(project.context, settings, docs_root=docs_root)
    return project


def _ephemeral(settings: Settings) -> Any:
    """An in-memory context holding the same suites (no files, no Data Docs)."""
    if not _EPHEMERAL:
        _EPHEMERAL.append(_gx().get_context(mode="ephemeral"))
    _sync(_EPHEMERAL[0], settings, docs_root=None)
    return _EPHEMERAL[0]


def _sync(context: Any, settings: Settings, *, docs_root: Path | None) -> list[str]:
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.exceptions import DataContextError

    changed: list[str] = []
    bars = context.variables.progress_bars  # a dict when read from great_expectations.yml
    bars = bars if isinstance(bars, dict) else vars(bars) if bars is not None else {}
    if bars.get("globally") is not False or bars.get("metric_calculations") is not False:
        # GX's tqdm bars would fill the stage's output
        context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        if docs_root is not None:
            context.variables.save()
            changed.append(f"{GX_FOLDER}/great_expectations.yml (progress_bars)")
    root = Path(context.root_directory) if docs_root is not None else None
    if docs_root is not None:
        for site in SITE_SUITES:
            base = os.path.relpath(docs_root / site, root) + "/"
            config = _site_config(base)
            sites = context.list_data_docs_sites()
            if site not in sites:
                context.add_data_docs_site(site, config)
            elif sites[site] != config:
                context.update_data_docs_site(site, config)
            else:
                continue
            changed.append(f"{GX_FOLDER}/great_expectations.yml (data_docs_sites.{site})")
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    wanted = suite_expectations(settings)
    for name in SUITES:
        try:
            asset = source.get_asset(name)
        except LookupError:
            asset = source.add_dataframe_asset(name)
        try:
            batch = asset.get_batch_definition(BATCH)
        except (KeyError, LookupError):
            batch = asset.add_batch_definition_whole_dataframe(BATCH)
        try:
            suite = context.suites.get(name)
        except DataContextError:
            suite = context.suites.add(gx.ExpectationSuite(name=name, notes=GENERATED_NOTE))
            changed.append(f"{GX_FOLDER}/expectations/{name}.json")
        if [_config(x) for x in suite.expectations] != [_config(x) for x in wanted[name]]:
            # Same suite (same id, so the validation definition still points at it), new
            # expectations, written once.
            # An expectation on the same column keeps its id: the diff shows the changed values.
            ids = {_key(x): x.id for x in suite.expectations}
            for expectation in wanted[name]:
                expectation.id = ids.pop(_key(expectation), None)
            suite.expectations = list(wanted[name])
            suite.notes = GENERATED_NOTE
            suite.save()
            changed.append(f"{GX_FOLDER}/expectations/{name}.json")
        try:
            definition = context.validation_definitions.get(name)
        except DataContextError:
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite)
            )
        try:
            context.checkpoints.get(name)
        except DataContextError:
            site = next(s for s, names in SITE_SUITES.items() if name in names)
            actions = (
                [gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[site])]
                if docs_root is not None
                else []
            )
            context.checkpoints.add(
                gx.Checkpoint(
                    name=name,
                    validation_definitions=[definition],
                    actions=actions,
                    result_format={
                        "result_format": "SUMMARY",
                        "partial_unexpected_count": 20,
                        "unexpected_index_column_names": (
                            [ROW_ID, FEATURE] if name == "feature_values" else [ROW_ID]
                        ),
                    },
                )
            )
    return _unique(changed)


def _key(expectation: Any) -> tuple[str, str | None]:
    return expectation.expectation_type, expectation.configuration.kwargs.get("column")


def _site_config(base_directory: str) -> dict:
    return {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": base_directory,
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def _under(root: Path, path: Path) -> Path:
    """A params path (relative ones are from the project root)."""
    return path if path.is_absolute() else root / path


# --------------------------------------------------------------------------- public API


def validate_manifest(
    manifest: pd.DataFrame, settings: Settings, *, project: GxProject | None = None
) -> ValidationReport:
    """Check the clip manifest: columns, ids, labels, durations and that every file exists.
    With a project: on its stored suite, result kept, Data Docs site `manifest` built."""
    df = manifest.copy(deep=False)  # the helper columns go on this copy only
    df[ROW_ID] = _row_ids(df)
    paths = df["path"].tolist() if "path" in manifest.columns else [None] * len(df)
    df[FILE_EXISTS] = [
        isinstance(p, str | os.PathLike) and bool(str(p)) and os.path.exists(p) for p in paths
    ]
    path_of = dict(zip(df[ROW_ID], paths, strict=True))

    def describe(kind: str, column: str | None, result: dict) -> str | None:
        if column == FILE_EXISTS:
            rows = _index_rows(result)
            missing = [str(path_of.get(r, "?")) for r in rows[:_SHOW]]
            return (
                f"{result.get('unexpected_count', 0)} of {result.get('element_count', 0)} "
                f"audio files not found; clip_id: {_join(rows)}; path: {_join(missing)}"
            )
        return None

    context = _start(project, "manifest", settings)
    outcomes = _run(context, "manifest", df)
    checks = [_check(o, set(df.columns), {ROW_ID, FILE_EXISTS}, describe) for o in outcomes]
    return _report("manifest", len(df), checks, project)


def validate_features(
    vectors: pd.DataFrame,
    expected_columns: list[str],
    settings: Settings,
    *,
    project: GxProject | None = None,
) -> ValidationReport:
    """Check the per-clip vector table: exact columns and unique clip ids (suite `features`),
    then every value of the expected feature columns, cell by cell (suite `feature_values`):
    not NaN, finite, |value| < MAX_ABS_FEATURE.

    feature_values sees the table in long form, one row per (clip, feature), in blocks of
    _BLOCK_CELLS cells: two expectations cover any number of feature columns (one pair per
    column took ~9 s on 4000 x 300 plus ~45 s to build the suite; long form: 0.3 s), and the
    block bounds the memory at any number of clips."""
    df = vectors.copy(deep=False)
    df[ROW_ID] = _row_ids(df)
    present = set(df.columns)
    feature_cols = [c for c in expected_columns if c in present and c != "clip_id"]
    context = _start(project, "features", settings)
    columns = {FEATURE_COLUMNS: _union(["clip_id"], expected_columns, [ROW_ID])}
    outcomes = _run(context, "features", df, columns)
    checks = [_check(o, present, {ROW_ID}, _no_description) for o in outcomes]

    ids = np.asarray(df[ROW_ID].tolist(), dtype=object)
    names = np.asarray(feature_cols, dtype=object)
    nan_counts: dict[str, int] = {}
    range_counts: dict[str, int] = {}
    merged: list[_Outcome] = []
    positions = df.columns.get_indexer(feature_cols)
    step = max(1, _BLOCK_CELLS // max(1, len(feature_cols)))
    for start in range(0, max(len(df), 1), step):
        values = _numeric(df.iloc[start : start + step, positions])  # copies this block only
        nan = np.isnan(values)
        big = ~nan & ~(np.abs(np.where(nan, 0.0, values)) < MAX_ABS_FEATURE)
        _tally(nan_counts, feature_cols, nan.sum(axis=0))
        _tally(range_counts, feature_cols, big.sum(axis=0))
        cells = pd.DataFrame(
            {
                ROW_ID: np.repeat(ids[start : start + step], len(names)),
                FEATURE: np.tile(names, values.shape[0]),
                VALUE: values.ravel(),
            }
        )
        merged = _merge(merged, _run(context, "feature_values", cells))

    def describe(kind: str, column: str | None, result: dict) -> str | None:
        nan = kind == "expect_column_values_to_not_be_null"
        counts = nan_counts if nan else range_counts
        what = "NaN (or not a number)" if nan else f"inf or |value| >= {MAX_ABS_FEATURE:g}"
        cols = ", ".join(f"{c} ({n} row{'s' * (n != 1)})" for c, n in list(counts.items())[:_SHOW])
        if len(counts) > _SHOW:
            cols += f", ... ({len(counts)} columns in all)"
        cells = _unique(
            f"{d.get(ROW_ID)}: {d.get(FEATURE)}={_fmt(d.get(VALUE))}"
            for d in result.get("partial_unexpected_index_list") or []
            if isinstance(d, dict)
        )
        return (
            f"{result.get('unexpected_count', 0)} of {result.get('element_count', 0)} feature "
            f"values are {what}; feature columns: {cols or '-'}; cells: {_join(cells)}"
        )

    checks += [_check(o, {FEATURE, VALUE, ROW_ID}, set(), describe) for o in merged]
    return _report("features", len(df), checks, project)


def write_report(report: ValidationReport, directory: Path) -> Path:
    """Write ``<dir>/<suite>.json`` (to_dict) and ``<dir>/<suite>.md`` (summary)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{report.suite}.json"
    json_path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    status = "passed" if report.success else "FAILED"
    docs = f"Data Docs: `{report.data_docs}`\n\n" if report.data_docs else ""
    md = (
        f"# Data validation: {report.suite}\n\n"
        f"Status: **{status}** ({len(report.checks)} checks, "
        f"{len(report.failures())} failed, {report.rows} rows)\n\n"
        f"{docs}"
        f"```text\n{report.summary()}\n```\n"
    )
    (directory / f"{report.suite}.md").write_text(md)
    return json_path


def raise_for_failures(report: ValidationReport) -> None:
    """Raise DataValidationError with the readable summary when the suite failed."""
    if not report.success:
        raise DataValidationError(report.summary())


# --------------------------------------------------------------------------- GX plumbing

_Describe = Callable[[str, str | None, dict], str | None]


@dataclass
class _Outcome:
    """One expectation's result, as plain data (blocks of feature_values merge into one)."""

    kind: str
    kwargs: dict
    success: bool
    result: dict
    error: str | None


def _gx():
    """Import GX lazily (slow import) with analytics and usage messages off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _start(project: GxProject | None, site: str, settings: Settings) -> Any:
    """The context to run in; with a project, the stage's Data Docs site starts empty, so that
    its index lists this run only (every run stays in gx/uncommitted/validations/)."""
    if project is None:
        return _ephemeral(settings)
    shutil.rmtree(project.docs_root / site, ignore_errors=True)
    return project.context


def _run(context: Any, name: str, df: pd.DataFrame, params: dict | None = None) -> list[_Outcome]:
    """Run the stored checkpoint `name` on df; results in the suite's order."""
    checkpoint = context.checkpoints.get(name)
    outcome = checkpoint.run(batch_parameters={"dataframe": df}, expectation_parameters=params)
    suite = checkpoint.validation_definitions[0].suite
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    results = [r for run in outcome.run_results.values() for r in run.results]
    results.sort(key=lambda r: order.get(r.expectation_config.id, len(order)))
    return [
        _Outcome(
            kind=r.expectation_config.type,
            kwargs=dict(r.expectation_config.kwargs),
            success=bool(r.success),
            result=dict(r.result or {}),
            error=_exception_message(r.exception_info),
        )
        for r in results
    ]


def _merge(done: list[_Outcome], block: list[_Outcome]) -> list[_Outcome]:
    """Add one block's outcomes to those of the blocks before (same suite, same order)."""
    if not done:
        return block
    merged = []
    for a, b in zip(done, block, strict=True):
        result = dict(a.result)
        for key in ("element_count", "unexpected_count", "missing_count"):
            if key in b.result:
                result[key] = result.get(key, 0) + b.result[key]
        for key in ("partial_unexpected_list", "partial_unexpected_index_list"):
            result[key] = list(result.get(key) or []) + list(b.result.get(key) or [])
        merged.append(
            _Outcome(a.kind, a.kwargs, a.success and b.success, result, a.error or b.error)
        )
    return merged


def _report(
    suite: str, rows: int, checks: list[CheckResult], project: GxProject | None
) -> ValidationReport:
    docs = None
    if project is not None:
        site = project.docs_root / suite
        _offline(site, project.root / GX_FOLDER / VENDOR)
        index = site / "index.html"
        docs = (
            os.path.relpath(index, project.root)
            if index.is_relative_to(project.root)
            else str(index)
        )
    success = all(c.success for c in checks)
    return ValidationReport(suite=suite, success=success, rows=rows, checks=checks, data_docs=docs)


def _no_description(kind: str, column: str | None, result: dict) -> str | None:
    return None


def _check(
    outcome: _Outcome, present: set[str], extra_columns: set[str], describe: _Describe
) -> CheckResult:
    kind, kwargs, result = outcome.kind, outcome.kwargs, outcome.result
    column = kwargs.get("column")
    if outcome.error:
        if column is not None and column not in present:
            return CheckResult(kind, column, False, f"column {column} is missing")
        return CheckResult(
            kind, column, False, f"could not be evaluated (column type?): {outcome.error}"
        )
    if outcome.success:
        return CheckResult(kind, column, True, _passed_detail(kind, result))
    detail = describe(kind, column, result) or _failed_detail(kind, kwargs, result, extra_columns)
    return CheckResult(kind, column, False, detail)


def _passed_detail(kind: str, result: dict) -> str:
    if "observed_value" in result:
        return f"ok (observed {_fmt_observed(result['observed_value'])})"
    return f"ok ({result.get('element_count', 0)} rows)"


def _failed_detail(kind: str, kwargs: dict, result: dict, extra_columns: set[str]) -> str:
    if kind == "expect_table_columns_to_match_set":
        observed = [c for c in result.get("observed_value") or [] if c not in extra_columns]
        wanted = [c for c in kwargs.get("column_set") or [] if c not in extra_columns]
        missing = [c for c in wanted if c not in observed]
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if kwargs.get("exact_match", True):
            extra = [c for c in observed if c not in wanted]
            if extra:
                parts.append(f"unexpected columns: {', '.join(extra)}")
        return "; ".join(parts) or f"columns were {', '.join(observed)}"
    if kind == "expect_table_row_count_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        return f"table has {result.get('observed_value')} rows, expected {bounds}"
    if kind == "expect_column_to_exist":
        return f"column {kwargs.get('column')} is missing"

    count, total = result.get("unexpected_count", 0), result.get("element_count", 0)
    rows = _index_rows(result)
    head = f"{count} of {total} rows"
    if kind == "expect_column_values_to_not_be_null":
        return f"{head} are null; clip_id: {_join(rows)}"
    values = [d["value"] for d in result.get("partial_unexpected_counts") or []]
    if not values:
        values = _unique(result.get("partial_unexpected_list") or [])
    if kind == "expect_column_values_to_be_unique":
        return (
            f"{head} share a value; duplicated: {_join(values, quote=True)}; clip_id: {_join(rows)}"
        )
    if kind == "expect_column_values_to_be_in_set":
        allowed = ", ".join(str(v) for v in kwargs.get("value_set") or [])
        return (
            f"{head} not in {{{allowed}}}; bad values: {_join(values, quote=True)}; "
            f"clip_id: {_join(rows)}"
        )
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        return (
            f"{head} outside [{_fmt(low)}, {_fmt(high)}]; bad values: {_join(values, quote=True)}; "
            f"clip_id: {_join(rows)}"
        )
    return f"{head} unexpected; values: {_join(values, quote=True)}; clip_id: {_join(rows)}"


def _exception_message(info: Any) -> str | None:
    """GX nests exception info per metric; return the first message found."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") and info.get("exception_message"):
        return str(info["exception_message"])
    for value in info.values():
        if isinstance(value, dict) and (msg := _exception_message(value)):
            return msg
    return None


# Data Docs pages load these from CDNs; the files are in gx/plugins/custom_data_docs/static/vendor.
_VENDORED = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap.bundle.min.js"  # with Popper: the popper.js tag is dropped
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": "bootstrap-table-filter-control.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": "bootstrap-table-filter-control.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome/css/all.min.css"
    ),
    # the index's filter row calls it (without it the table stays empty)
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
}
_TAG = re.compile(
    r'<script\b[^>]*\bsrc="(https?://[^"]*)"[^>]*>\s*</script>'
    r'|<link\b[^>]*\bhref="(https?://[^"]*)"[^>]*>'
)
_STATIC = re.compile(r'="(?:\./|(?:\.\./)+)static/')  # GX miscounts the depth of some pages
_LOGO = re.compile(r'"https://great-expectations-web-assets\.s3[^"]*/([\w.-]+\.png)[^"]*"')


def _offline(site: Path, vendor: Path) -> None:
    """Make the built site open without a network: the CDN scripts and styles GX's templates
    load (jQuery, Bootstrap, bootstrap-table, its date filter, Font Awesome) point at copies under
    <site>/static/vendor/, the ones these suites do not need (Vega, the dark theme) are
    dropped, the logo comes from the site's own static/images/ and links into static/
    get the page's real depth (GX's favicon link on a result page is one level short). A gx
    folder without those copies (not this repository's) keeps GX's CDN links."""
    if not (site / "index.html").exists() or not vendor.is_dir():
        return
    shutil.copytree(vendor, site / "static" / "vendor", dirs_exist_ok=True)
    for page in site.rglob("*.html"):
        if not page.is_relative_to(site / "static"):
            static = "../" * (len(page.relative_to(site).parts) - 1) + "static/"
            page.write_text(_localize(page.read_text(encoding="utf-8"), static), encoding="utf-8")


def _localize(html: str, static: str) -> str:
    """One page's CDN tags and logo pointed at `static` (the site's static/, relative)."""

    def local(match: re.Match) -> str:
        url = match.group(1) or match.group(2)
        if url not in _VENDORED:
            return ""
        path = static + "vendor/" + _VENDORED[url]
        if match.group(1):
            return f'<script src="{path}"></script>'
        return f'<link rel="stylesheet" href="{path}">'

    html = _STATIC.sub(f'="{static}', _TAG.sub(local, html))
    return _LOGO.sub(lambda m: f'"{static}images/{m.group(1)}"', html)


# --------------------------------------------------------------------------- helpers


def _row_ids(df: pd.DataFrame) -> list[str]:
    """How failures name rows: the clip_id; "row <i>" when it is null; "<id> (row <i>)" when
    the id is duplicated (so that every row keeps its own label)."""
    if "clip_id" not in df.columns:
        return [f"row {i}" for i in range(len(df))]
    ids = df["clip_id"].tolist()
    duplicated = df["clip_id"].duplicated(keep=False).tolist()
    return [
        f"row {i}" if _is_null(v) else f"{v} (row {i})" if dup else str(v)
        for i, (v, dup) in enumerate(zip(ids, duplicated, strict=True))
    ]


def _numeric(block: pd.DataFrame) -> np.ndarray:
    """A block of feature columns as float64; a text cell becomes NaN (a bad value)."""
    try:
        return block.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _tally(counts: dict[str, int], columns: list[str], per_column: np.ndarray) -> None:
    for name, n in zip(columns, per_column.tolist(), strict=True):
        if n:
            counts[name] = counts.get(name, 0) + int(n)


def _index_rows(result: dict) -> list[str]:
    rows = [
        str(d.get(ROW_ID)) if isinstance(d, dict) else str(d)
        for d in result.get("partial_unexpected_index_list") or []
    ]
    return _unique(rows)


def _union(*groups: Iterable[str]) -> list[str]:
    return _unique(str(v) for g in groups for v in g)


def _unique(values: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _is_null(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _fmt(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        f = float(value)
        if math.isnan(f):
            return "nan"
        return f"{f:g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _join(values: list[Any], *, quote: bool = False) -> str:
    """Up to _SHOW items; values are quoted (quote=True) so that '' and ' x' stay visible."""
    if not values:
        return "-"
    shown = [_fmt(v) if quote or not isinstance(v, str) else v for v in values[:_SHOW]]
    return ", ".join(shown) + (", ..." if len(values) > _SHOW else "")


def _fmt_observed(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} columns"
    return _fmt(value)
