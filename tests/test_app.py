"""The Solara app rendered without a browser (solara.render): controls, stepping, errors."""

from __future__ import annotations

import importlib.util
import sys

import pytest

pytest.importorskip("solara")
ipyvuetify = pytest.importorskip("ipyvuetify")

import ipywidgets as widgets  # noqa: E402
import solara  # noqa: E402

from sim.config import list_scenarios, load_scenario  # noqa: E402
from sim.paths import viz_dir  # noqa: E402

v = ipyvuetify


def _load(name: str):
    path = viz_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"recip_test_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


app = _load("app")
rv = sys.modules["recip_view"]  # the sibling the app imported


@pytest.fixture
def page():
    _box, rc = solara.render(app.Page(), handle_error=False)
    yield rc
    rc.close()


def _text(rc, cls: str) -> str:
    return rc.find(v.Html, class_=cls).widget.children[0]


def _markdown(rc, cls: str) -> str:
    return rc.find(v.Html, class_=cls).find(v.VuetifyTemplate).widget.template


def _images(rc) -> list[bytes]:
    return [w.value for w in rc.find(widgets.Image).widgets]


def _set_seed(rc, text: str) -> None:
    field = rc.find(v.TextField, label="Seed").widget
    field.v_model = text
    field.fire_event("keyup.enter", None)


def test_controls_exist(page):
    for label in ("Scenario", "Arm"):
        page.find(v.Select, label=label).assert_single()
    page.find(v.TextField, label="Seed").assert_single()
    page.find(v.Switch, label="Trainer mode (two panels)").assert_single()
    for name in ("Step", "Play", "Reset"):
        page.find(v.Btn, children=[name]).assert_single()
    labels = " ".join(w.children[0] for w in page.find(v.Html, class_="recip-slider-label").widgets)
    for expected in ("Buyers:", "Neighbours per buyer", "sincerity-detection skill",
                     "reactance proneness", "Obligation half-life", "Gift value", "Surprise",
                     "Personalisation", "Ask delay", "Ask size", "Pressure: urgency"):
        assert expected in labels, expected
    page.find(v.Select, label="Network type").assert_single()
    page.find(v.Switch, label="Pressure: follow up after a no").assert_not_empty()
    page.find(v.Select, label="Pushy Pat: strategy").assert_single()
    assert _text(page, "recip-day") == "Day 0 of 180"
    assert "Things to notice" in _markdown_all(page)


def test_stepping_changes_the_plots(page):
    images = _images(page)
    table = _markdown(page, "recip-latest")
    for _ in range(3):
        page.find(v.Btn, children=["Step"]).widget.click()
    assert _text(page, "recip-day") == "Day 3 of 180"
    after = _images(page)
    assert len(after) == 2
    assert after[0] != images[0] and after[1] != images[1]
    assert _markdown(page, "recip-latest") != table
    assert "Buyer" in _markdown(page, "recip-log")
    page.find(v.Btn, children=["Reset"]).widget.click()
    assert _text(page, "recip-day") == "Day 0 of 180"


def test_bad_seed_shows_an_error(page):
    _set_seed(page, "twelve")
    assert "not a whole number" in page.find(v.Alert).widget.children[0]
    assert page.find(v.Btn, children=["Step"]).widget.disabled
    _set_seed(page, "-3")
    assert "out of range" in page.find(v.Alert).widget.children[0]
    _set_seed(page, "12")
    page.find(v.Alert).assert_empty()
    page.find(v.Btn, children=["Step"]).widget.click()
    assert _text(page, "recip-day") == "Day 1 of 180"


def test_a_slider_becomes_an_override(page):
    skill = rv.Control("buyers.detection_skill.mean", "", "float")
    assert skill.key in {c.key for c in rv.global_controls(load_scenario("pushy_vs_active"))}
    default = load_scenario("pushy_vs_active").buyers.detection_skill.mean
    slider = next(w for w in page.find(v.Slider).widgets
                  if w.v_model == default and w.max == 1.0 and not w.label)
    slider.v_model = 0.8
    assert "sincerity-detection skill (mean): 0.8" in " ".join(
        w.children[0] for w in page.find(v.Html, class_="recip-slider-label").widgets)
    assert "buyers.detection_skill.mean = 0.8" in _markdown_all(page)
    assert "buyers.detection_skill.mean = 0.8" in _markdown_all(page)


def _markdown_all(rc) -> str:
    return " ".join(w.template for w in rc.find(v.VuetifyTemplate).widgets
                    if isinstance(w.template, str))


def test_trainer_mode_shows_two_panels_and_gaps(page):
    page.find(v.Switch, label="Trainer mode (two panels)").widget.v_model = True
    assert len(page.find(v.Html, class_="recip-latest").widgets) == 2
    page.find(v.Btn, children=["Step"]).widget.click()
    gaps = _markdown(page, "recip-gaps")
    assert "gap (B - A)" in gaps and "Conversion" in gaps
    assert len(_images(page)) == 4


SCENARIO_ARMS = [(name, arm) for name in list_scenarios()
                 for arm in (app.rv.AS_WRITTEN, *load_scenario(name).arms)]


@pytest.mark.parametrize(("name", "arm"), SCENARIO_ARMS)
def test_every_scenario_and_arm_renders_and_steps(page, name, arm):
    page.find(v.Select, label="Scenario").widget.v_model = name
    page.find(v.Select, label="Arm").widget.v_model = arm
    assert page.find(v.Select, label="Arm").widget.v_model == arm
    steps = load_scenario(name, arm=None if arm == app.rv.AS_WRITTEN else arm).steps
    assert _text(page, "recip-day") == f"Day 0 of {steps}"
    page.find(v.Alert).assert_empty()
    page.find(v.Btn, children=["Step"]).widget.click()
    assert _text(page, "recip-day") == f"Day 1 of {steps}"
    page.find(v.Alert).assert_empty()


# --- what a browser sends is checked ------------------------------------------------------------


def test_the_scenario_menu_never_loads_a_path(page, tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text('steps = 7\n[guide]\ntitle = "hunter2 secret"\n')
    for sent in (str(secret), str(secret.with_suffix("")), "../scenarios/mint_study"):
        page.find(v.Select, label="Scenario").widget.v_model = sent
        assert _text(page, "recip-day") == "Day 0 of 180"
        assert "hunter2" not in _markdown_all(page)
        assert "Pushy versus active selling" in _markdown_all(page)
    with pytest.raises(rv.ScenarioError, match="unknown scenario"):
        rv.resolve(str(secret), None, {})
    with pytest.raises(rv.ScenarioError, match="unknown scenario"):
        rv.Run(str(secret), None, {}, 1)


def test_the_arm_menu_takes_only_the_scenarios_arms(page):
    page.find(v.Select, label="Scenario").widget.v_model = "mint_study"
    page.find(v.Select, label="Arm").widget.v_model = "two_candies"
    page.find(v.Select, label="Arm").widget.v_model = "no_such_arm"
    page.find(v.Alert).assert_empty()  # ignored: the two-candies run is still there
    page.find(v.Btn, children=["Step"]).widget.click()
    assert _text(page, "recip-day") == "Day 1 of 1"
    page.find(v.Alert).assert_empty()
    with pytest.raises(rv.ScenarioError, match="no arm"):
        rv.resolve("mint_study", "no_such_arm", {})


def test_a_control_takes_only_values_it_offers(page):
    default = load_scenario("pushy_vs_active").buyers.detection_skill.mean
    slider = next(w for w in page.find(v.Slider).widgets
                  if w.v_model == default and w.max == 1.0 and not w.label)
    for sent in (7.5, -1, float("nan"), float("inf")):
        slider.v_model = sent
        assert "Overrides:" not in _markdown_all(page), sent
    page.find(v.Select, label="Network type").widget.v_model = "edgelist"
    assert "Overrides:" not in _markdown_all(page)


def test_an_internal_error_shows_one_line_and_no_traceback(monkeypatch):
    def broken(self):
        raise RuntimeError("secret detail of the server")

    monkeypatch.setattr(rv.Session, "frames", broken)
    _box, rc = solara.render(app.Page(), handle_error=False)
    try:
        shown = " ".join(str(w.children) for w in rc.find(v.Alert).widgets)
        assert app.INTERNAL_ERROR in shown
        everything = shown + _markdown_all(rc)
        assert "secret detail" not in everything and "Traceback" not in everything
    finally:
        rc.close()


def test_event_log_in_plain_words():
    run = rv.Run("pushy_vs_active", None, {"buyers.n": 300}, 3)
    for _ in range(12):
        run.step()
    text = "\n".join(run.log)
    assert "asked Buyer" in text and "for a purchase on day" in text
    assert len(run.log) <= rv.LOG_LINES


def test_parse_seed():
    assert rv.parse_seed("7") == (7, None)
    assert rv.parse_seed("1.5")[0] is None
    assert rv.parse_seed(str(2**64))[1].startswith("seed = ")


def test_play_then_pause(page):
    import time

    page.find(v.Btn, children=["Play"]).widget.click()
    deadline = time.monotonic() + 20
    while _text(page, "recip-day") == "Day 0 of 180" and time.monotonic() < deadline:
        time.sleep(0.05)
    page.find(v.Btn, children=["Pause"]).widget.click()
    time.sleep(0.5)
    day = _text(page, "recip-day")
    assert day != "Day 0 of 180"
    time.sleep(0.5)
    assert _text(page, "recip-day") == day
    page.find(v.Btn, children=["Play"]).assert_single()
