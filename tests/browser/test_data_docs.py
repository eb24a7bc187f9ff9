"""The Data Docs site `gra validate` builds, opened from disk in headless Chromium with the
network off: its tables (filled by jQuery + bootstrap-table) show the run and the failure."""

from __future__ import annotations

import pytest
from gx_fixtures import gx_copy, manifest

from gra.validation import open_project, validate_manifest


@pytest.fixture()
def site(tmp_path):
    settings = gx_copy(tmp_path)
    df = manifest(tmp_path)
    df.loc[3, "gender"] = "robot"
    report = validate_manifest(df, settings, project=open_project(settings, tmp_path))
    assert not report.success
    return tmp_path / report.data_docs


def test_data_docs_render_offline(site, browser_factory):
    from selenium.webdriver.common.by import By

    driver = browser_factory()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    driver.get(site.as_uri())
    assert driver.execute_script("return typeof jQuery.fn.bootstrapTable") == "function"
    rows = driver.find_elements(By.CSS_SELECTOR, "table tbody tr")
    runs = [r for r in rows if "manifest" in r.text]
    assert runs, [r.text for r in rows]  # an empty table is what GX's CDN pages show offline
    # a run's row links to its page (GX sets data-href; a click follows it)
    link = runs[0].get_attribute("data-href")
    assert link and link.startswith("validations/manifest/"), link
    driver.get((site.parent / link).as_uri())
    failing = [
        r.text for r in driver.find_elements(By.CSS_SELECTOR, "table tbody tr") if "robot" in r.text
    ]
    assert failing and "values must belong to this set: female male other" in failing[0]
    assert "1 unexpected values found" in failing[0]
    assert "gender" in driver.find_element(By.TAG_NAME, "body").text  # the column's section
    icon = driver.find_element(By.CSS_SELECTOR, ".fa-times, .fa-xmark, .fas")
    assert "Font Awesome" in icon.value_of_css_property("font-family")
