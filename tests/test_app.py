"""The Solara app rendered without a browser (solara.render): controls, stepping, errors."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys

import pytest

pytest.importorskip("solara")
ipyvuetify = pytest.importorskip("ipyvuetify")

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
rv = sys.modules["recip_view"]  # the siblings the app imported
ui = sys.modules["components"]


@pytest.fixture(autouse=True)
def served_renderer(monkeypatch):
    """Render with reacton's fast renderer, as ``recip app`` does (viz/server.py);
    ``REACTON_FAST=0 pytest`` tests the default one."""
    monkeypatch.setenv("REACTON_FAST", os.environ.get("REACTON_FAST", "1"))


@pytest.fixture
def page():
    _box, rc = solara.render(app.Page(), handle_error=False)
    yield rc
    rc.close()


def _text(rc, cls: str) -> str:
    return rc.find(v.Html, class_=cls).widget.children[0]


def _html_widgets(rc, cls: str | None = None):
    return [w for w in rc.find(solara.widgets.HTML).widgets
            if cls is None or cls in (w.attributes or {}).get("class", "").split()]


def _html(rc, cls: str) -> str:
    """The inner HTML of the one solara.HTML element with this class."""
    found = _html_widgets(rc, cls)
    assert len(found) == 1, f"{len(found)} elements of class {cls}"
    return found[0].unsafe_innerHTML


def _all_html(rc) -> str:
    return " ".join(w.unsafe_innerHTML for w in _html_widgets(rc)) + " ".join(
        str(w.children[0]) for w in rc.find(v.Html).widgets if w.children)


def _widgets_with(rc, trait: str) -> list:
    """The Vue components (plots, network) on the page that have this property."""
    return [w for w in rc.find(v.VuetifyTemplate).widgets if trait in w.trait_names()]


def _prop(widget, name: str):
    """A prop the app passes as JSON (``rows_json``, ``frame_json``, ...), decoded."""
    return json.loads(getattr(widget, f"{name}_json"))


def _chart_rows(rc, metric: str) -> list[dict]:
    """The rows of one metric's plot (a VegaCharts widget holds several plots)."""
    return next(_prop(w, "rows")[metric] for w in _widgets_with(rc, "rows_json")
                if metric in _prop(w, "rows"))


def _set_seed(rc, text: str) -> None:
    field = rc.find(v.TextField, label="Seed").widget
    field.v_model = text
    field.fire_event("keyup.enter", None)


def _click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.click()


def _field(rc, label: str):
    return rc.find(v.TextField, label=label).widget


def _type(rc, label: str, text: str) -> None:
    """Type into a text field and leave it (what commits a solara input)."""
    field = _field(rc, label)
    field.v_model = text
    field.fire_event("focusout", None)


def test_controls_exist(page):
    for label in ("Scenario", "Arm"):
        page.find(v.Select, label=label).assert_single()
    page.find(v.TextField, label="Seed").assert_single()
    page.find(v.Switch, label="Trainer mode").assert_single()
    page.find(v.Switch, label="Presentation").assert_single()
    for name in ("Step", "Play", "Reset"):
        page.find(v.Btn, children=[name]).assert_single()
    labels = " ".join(w.label for w in page.find(v.TextField).widgets if w.label)
    for expected in ("Buyers", "Neighbours per buyer", "sincerity-detection skill",
                     "reactance proneness", "Obligation half-life", "Gift value", "Surprise",
                     "Personalisation", "Ask delay", "Ask size", "Pressure: urgency"):
        assert expected in labels, expected
    page.find(v.Select, label="Network type").assert_single()
    page.find(v.Checkbox, label="Pressure: follow up after a no").assert_not_empty()
    page.find(v.Select, label="Pushy Pat: strategy").assert_single()
    assert _text(page, "recip-day") == "Day 0 of 180"
    assert "Things to notice" in _html(page, "recip-guide")


def test_stepping_redraws_plots_network_and_log(page):
    net_before = _prop(_widgets_with(page, "frame_json")[0], "frame")
    for _ in range(3):
        _click(page, "Step")
    assert _text(page, "recip-day") == "Day 3 of 180"
    rows = _chart_rows(page, "conversion_rate")
    assert {r["series"] for r in rows if r["kind"] == "line"} == {"pushy", "active"}
    assert max(r["day"] for r in rows) == 3 and any(r["kind"] == "gap" for r in rows)
    net_after = _prop(_widgets_with(page, "frame_json")[0], "frame")
    assert net_after["day"] == 3 and net_after != net_before
    assert "Buyer" in _html(page, "recip-log")
    _click(page, "Reset")
    assert _text(page, "recip-day") == "Day 0 of 180"


def test_bad_seed_shows_an_error(page):
    _set_seed(page, "twelve")
    assert "not a whole number" in page.find(v.Alert).widget.children[0]
    assert page.find(v.Btn, children=["Step"]).widget.disabled
    _set_seed(page, "-3")
    assert "out of range" in page.find(v.Alert).widget.children[0]
    _set_seed(page, "12")
    page.find(v.Alert).assert_empty()
    _click(page, "Step")
    assert _text(page, "recip-day") == "Day 1 of 180"


def test_a_parameter_change_waits_for_reset(page):
    for _ in range(2):
        _click(page, "Step")
    field = _field(page, "Buyers' sincerity-detection skill (mean)")
    assert float(field.v_model) == load_scenario("pushy_vs_active").buyers.detection_skill.mean
    field.v_model = "0.8"
    field.fire_event("focusout", None)
    assert _text(page, "recip-day") == "Day 2 of 180"  # the run goes on as it was
    assert "buyers.detection_skill.mean = 0.8" in _text(page, "recip-pending-text")
    _click(page, "Apply and reset")
    assert _text(page, "recip-day") == "Day 0 of 180"
    page.find(v.Html, class_="recip-pending-text").assert_empty()
    assert "buyers.detection_skill.mean = 0.8" in _text(page, "recip-overrides")


def test_inputs_show_the_scenarios_exact_values(page):
    page.find(v.Select, label="Scenario").widget.v_model = "mint_study"
    page.find(v.Select, label="Arm").widget.v_model = "one_candy"
    scenario = load_scenario("mint_study", arm="one_candy")
    strategy = scenario.sellers[0].strategy
    gift = _field(page, "Gift value ($)")
    assert float(gift.v_model) == scenario.strategies[strategy].gift.value
    pushy = load_scenario("pushy_vs_active").strategies["pushy"].ask.size
    page.find(v.Select, label="Scenario").widget.v_model = "pushy_vs_active"
    sizes = [float(w.v_model) for w in page.find(v.TextField, label="Ask size ($)").widgets]
    assert pushy in sizes
    page.find(v.Html, class_="recip-pending-text").assert_empty()


def test_the_advanced_field_takes_a_dotted_key_and_refuses_files(page):
    _type(page, "Dotted key, e.g. strategies.pushy.ask.opt_out", "network.path")
    _type(page, 'Value (TOML: 0.8, true, "bait")', '"/etc/passwd"')
    _click(page, "Add (waits for Reset)")
    assert "not a setting the app can change" in page.find(v.Alert).widget.children[0]
    _type(page, "Dotted key, e.g. strategies.pushy.ask.opt_out", "strategies.pushy.ask.opt_out")
    _type(page, 'Value (TOML: 0.8, true, "bait")', "true")
    _click(page, "Add (waits for Reset)")
    assert "strategies.pushy.ask.opt_out = True" in _text(page, "recip-pending-text")


def _try_keys(text: str) -> list[str]:
    return re.findall(r"\b((?:buyers|strategies|network|sellers|rules|gift|ask)\.[A-Za-z0-9_.]*[A-Za-z0-9_])",
                      text)


@pytest.mark.parametrize("name", list_scenarios())
def test_every_things_to_try_setting_can_be_changed(name):
    resolved = load_scenario(name)
    keys = {c.key for c in rv.global_controls(resolved)} | {c.key for c in rv.mix_controls(resolved)}
    keys |= {c.key for cs in rv.strategy_controls(resolved).values() for c in cs}
    for line in resolved.guide.try_:
        for key in _try_keys(line):
            if key in keys:
                continue
            value = rv.get_dotted(resolved, key)  # the advanced field takes it, with its value
            text = "true" if value is True else "false" if value is False else repr(value) \
                if isinstance(value, str) else str(value)
            assert rv.advanced_override(resolved, key, text)[0] == key


def test_the_erdos_renyi_degree_says_what_is_used(page):
    page.find(v.Select, label="Network type").widget.v_model = "erdos_renyi"
    _click(page, "Apply and reset")
    field = _field(page, "Mean neighbours per buyer (0: use p)")
    assert float(field.v_model) == 0
    scenario = load_scenario("pushy_vs_active")
    implied = scenario.network.p * (scenario.buyers.n - 1)
    hints = " ".join(str(w.children) for w in page.find(v.Html, class_="recip-hint").widgets)
    assert f"about {implied:,.0f} neighbours per buyer" in hints


def _markdown_all(rc) -> str:
    return _all_html(rc)


def test_trainer_mode_puts_both_arms_in_one_plot(page):
    page.find(v.Switch, label="Trainer mode").widget.v_model = True
    _click(page, "Step")
    rows = _chart_rows(page, "conversion_rate")
    assert {r["series"] for r in rows if r["kind"] == "line"} == {"only pushy", "only active"}
    gaps = _html(page, "recip-gaps")
    assert "gap (B - A)" in gaps and "Conversion" in gaps
    assert len(_widgets_with(page, "frame_json")) == 2


def test_presentation_mode_has_large_type(page):
    page.find(v.Switch, label="Presentation").widget.v_model = True
    _click(page, "Step")
    specs = [spec for plots in _widgets_with(page, "specs_json") for _, spec in _prop(plots, "specs")]
    assert len(specs) == app.PRESENTATION_METRICS
    for spec in specs:
        config = spec["config"]
        assert config["axis"]["labelFontSize"] >= 18 and config["legend"]["labelFontSize"] >= 18
        assert spec["title"]["fontSize"] >= 18


def test_the_log_keeps_notable_events_latest_first():
    session = rv.Session.single("backfire_demo", "bait_gift", {}, 1)
    for _ in range(10):
        session.step()
    lines = session.log_lines(400)
    assert [line.day for line in lines] == sorted((line.day for line in lines), reverse=True)
    notable = session.notable_lines()
    assert any("first backfire" in line.notable for line in notable)
    assert all(line.day >= 1 for line in notable)


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


def test_resolve_is_memoised_on_scenario_arm_and_overrides():
    """The app resolves on every redraw: the same inputs give the same scenario without
    reloading the file; other inputs, and errors, are as before."""
    first = rv.resolve("pushy_vs_active", None, {"buyers.n": 300})
    assert rv.resolve("pushy_vs_active", None, {"buyers.n": 300}) is first
    assert first.buyers.n == 300
    assert rv.resolve("pushy_vs_active", None, {"buyers.n": 400}).buyers.n == 400
    assert rv.resolve("pushy_vs_active", None, {}).buyers.n == load_scenario("pushy_vs_active").buyers.n
    assert rv.resolve("mint_study", "two_candies", {}).arm == "two_candies"
    for _ in range(2):  # an error is never cached as a result
        with pytest.raises(rv.ScenarioError, match="no arm"):
            rv.resolve("mint_study", "no_such_arm", {})
        with pytest.raises(rv.ScenarioError):
            rv.resolve("pushy_vs_active", None, {"buyers.n": -5})


def test_resolve_sees_an_edit_to_the_defaults_while_the_app_runs(tmp_path, monkeypatch):
    """The memo's key holds the versions of the scenario file and of the defaults and presets
    under it: editing ``_defaults.toml`` while the app runs changes what it resolves."""
    import shutil

    import sim.config

    shipped = tmp_path / "scenarios"
    shutil.copytree(sim.config.scenarios_dir(), shipped)
    monkeypatch.setattr(sim.config, "scenarios_dir", lambda: shipped)
    monkeypatch.setattr(rv, "scenarios_dir", lambda: shipped)
    before = rv.resolve("pushy_vs_active", None, {}).rules.referral_rate
    defaults = shipped / "_defaults.toml"
    text = defaults.read_text()
    assert "\nreferral_rate = 0.002 " in text
    defaults.write_text(text.replace("\nreferral_rate = 0.002 ", "\nreferral_rate = 0.004 "))
    os.utime(defaults, ns=(defaults.stat().st_atime_ns, defaults.stat().st_mtime_ns + 10**9))
    assert (before, rv.resolve("pushy_vs_active", None, {}).rules.referral_rate) == (0.002, 0.004)


def test_a_control_takes_only_values_it_offers(page):
    control = next(c for c in rv.global_controls(load_scenario("pushy_vs_active"))
                   if c.key == "buyers.detection_skill.mean")
    for sent in (7.5, -1, float("nan"), float("inf"), "0.5", None, True):
        assert not control.accepts(sent), sent
    assert control.accepts(0.8)
    buyers = next(c for c in rv.global_controls(load_scenario("pushy_vs_active")) if c.key == "buyers.n")
    assert not buyers.accepts(10**9) and not buyers.accepts(2.5)
    page.find(v.Select, label="Network type").widget.v_model = "edgelist"
    page.find(v.Html, class_="recip-pending-text").assert_empty()


def test_an_internal_error_shows_one_line_and_no_traceback(monkeypatch):
    def broken(self):
        raise RuntimeError("secret detail of the server")

    monkeypatch.setattr(rv.Session, "chart", broken)
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
    text = "\n".join(line.text for line in run.log)
    assert "asked Buyer" in text and "for a purchase" in text
    assert len(run.log) <= rv.LOG_LINES


def test_parse_seed():
    assert rv.parse_seed("7") == (7, None)
    assert rv.parse_seed("1.5")[0] is None
    assert rv.parse_seed(str(2**64))[1].startswith("seed = ")


def test_play_then_pause_stops_within_one_step(page):
    import time

    _click(page, "Play")
    deadline = time.monotonic() + 20
    while _text(page, "recip-day") == "Day 0 of 180" and time.monotonic() < deadline:
        time.sleep(0.02)
    _click(page, "Pause")
    paused_at = int(_text(page, "recip-day").split()[1])
    assert paused_at > 0
    time.sleep(1.0)
    assert int(_text(page, "recip-day").split()[1]) <= paused_at + 1  # at most the step under way
    day = _text(page, "recip-day")
    time.sleep(0.5)
    assert _text(page, "recip-day") == day
    page.find(v.Btn, children=["Play"]).assert_single()


def test_a_model_built_elsewhere_is_drawn_and_caught_up():
    from sim.model import ReciprocityModel

    model = ReciprocityModel("pushy_vs_active", rng=2, overrides={"buyers.n": 300}, record_events=True)
    for _ in range(4):
        model.step()
    session = ui.for_model(model)
    assert session.day == 4 and len([r for r in session.runs[0].history if r["strategy"] == "all"]) == 4
    model.step()
    assert ui.for_model(model) is session and session.day == 5
    rows, series = session.chart("conversion_rate")
    assert series == ["pushy", "active"] and max(r["day"] for r in rows) == 5


# --- the guide's teaching script -----------------------------------------------------------------

story = sys.modules["story"]


@pytest.mark.parametrize("name", list_scenarios())
def test_every_script_condition_names_what_the_scenario_has(name):
    scenario = load_scenario(name)
    assert scenario.guide.script, f"{name} has no teaching script"
    metrics = set(rv.plotted_metrics(scenario)) | set(scenario.outcomes) | {
        "gift_acceptance_rate", "first_ask_compliance", "conceded_ask_compliance", "discount_depth"}
    for moment in scenario.guide.script:
        if "when" in moment:
            story.parse_condition(moment["when"], metrics=metrics,
                                  strategies=set(scenario.strategies_in_play), arms=set(scenario.arms))


@pytest.mark.parametrize("name", list_scenarios())
def test_every_scripted_moment_shows_in_the_shipped_run(name):
    """A guide's script says what the class will see ("pause when X passes Y"): each moment's
    condition becomes true in the run it names (the arms it compares side by side)."""
    for i, moment in enumerate(story.script_moments(load_scenario(name).guide)):
        if moment.condition is None:
            continue
        arms = sorted(moment.condition.arms)
        if len(arms) == 2:
            session = rv.Session.trainer(name, None, {"buyers.n": 600}, 1, *arms)
        else:
            session = rv.Session.single(name, arms[0] if arms else None, {"buyers.n": 600}, 1)
        session.step(session.runs[0].model.horizon)
        shown = [m for m in session.notices.moments
                 if m.condition and m.condition.text == moment.condition.text]
        assert shown and shown[0].day is not None, (
            f"{name}, script moment {i + 1}: {moment.condition.text!r} never holds")


def test_things_to_notice_are_ticked_from_the_run_on_their_day():
    session = rv.Session.single("pushy_vs_active", None, {"buyers.n": 600}, 1)
    session.step(9)
    assert session.notices.ticked_notices() == {}  # the first moment waits for day 10
    session.step(1)
    first = session.notices.ticked_notices()[0]
    assert first.day == 10
    pushy, active = (session.runs[0].latest(s)["conversion_rate"] for s in ("pushy", "active"))
    assert pushy > active  # what the tick claims holds in the run
    session.step(100)
    ticked = session.notices.ticked_notices()
    assert set(ticked) == {0, 1, 2}
    assert any(line.notable == "noticed" for line in session.notable_lines())


def test_a_claim_the_run_does_not_show_is_not_ticked():
    condition = story.parse_condition("conversion_rate[active] > conversion_rate[pushy] and day <= 3")
    session = rv.Session.single("pushy_vs_active", None, {"buyers.n": 300}, 1)
    session.step(3)
    run = session.runs[0]
    assert not condition.holds({None: run.view()}, session.day)
    assert run.latest("pushy")["conversion_rate"] >= run.latest("active")["conversion_rate"]


def test_arm_comparisons_wait_for_both_arms_in_trainer_mode():
    single = rv.Session.single("mint_study", "one_candy", {"buyers.n": 300}, 1)
    single.step(1)
    assert 0 not in single.notices.ticked_notices()
    assert "no_candy" in single.notices.waiting_for_arms()
    trainer = rv.Session.trainer("mint_study", None, {"buyers.n": 300}, 1, "no_candy", "one_candy")
    trainer.step(1)
    moment = trainer.notices.ticked_notices()[0]
    assert moment.day == 1 and moment.panel == "no_candy vs one_candy"
    a, b = (run.latest()["tip_percent"] for run in trainer.runs)
    assert b > a


@pytest.mark.parametrize("bad", [{"show": "x", "notice": 9}, {"ask": "no show"},
                                 {"show": "x", "when": 3}, {"show": "x", "colour": "red"}])
def test_the_guide_schema_checks_the_script(bad):
    with pytest.raises(Exception, match=r"guide\.script\[1\]"):
        load_scenario("pushy_vs_active", overrides={"guide.script": [bad]})


def test_the_reusable_components_draw_a_model_built_elsewhere():
    from sim.model import ReciprocityModel

    example = _load("mesa_example")
    assert callable(example.build_page)  # the SolaraViz page builds (mesa.visualization imports)
    model = ReciprocityModel("pushy_vs_active", rng=1, record_events=True, overrides={"buyers.n": 200})
    model.step()

    @solara.component
    def Host():
        for make in (ui.make_plots_component, ui.make_network_component, ui.make_event_log_component,
                     ui.make_guide_component):
            make()(model)

    _box, rc = solara.render(Host(), handle_error=False)
    try:
        charts = _widgets_with(rc, "rows_json")
        assert charts and max(r["day"] for rows in _prop(charts[0], "rows").values() for r in rows) == 1
        assert _widgets_with(rc, "frame_json")
    finally:
        rc.close()


def test_play_waits_for_each_redraw_when_a_redraw_is_slower_than_a_day(monkeypatch):
    """Trainer mode at 2,000 buyers on a busy server: a redraw takes longer than a day of Play.
    The thread handling the Play click, still rendering when the first day came, took over the
    play thread's redraws; the play thread kept stepping, so that render never ended (the page
    froze and failed with "Too many renders"; bench_app measured Play at 0.0 days/s)."""
    import time

    gaps = rv.Session.gaps

    def slow_gaps(self):  # the trainer-only table: one slow part in every redraw
        time.sleep(0.03)
        return gaps(self)

    monkeypatch.setattr(rv.Session, "gaps", slow_gaps)
    monkeypatch.setattr(app, "PLAY_DAYS_PER_SECOND", 200)  # a day of Play (5 ms) < a redraw
    monkeypatch.setattr(app, "_page_connected", lambda: True)  # no server to import here
    _box, rc = solara.render(app.Page(), handle_error=False)
    try:
        rc.find(v.Switch, label="Trainer mode").widget.v_model = True
        _click(rc, "Step")
        started = time.monotonic()
        _click(rc, "Play")
        took, day = time.monotonic() - started, int(_text(rc, "recip-day").split()[1])
        assert took < 1 and day < 20, f"the Play click rendered for {took:.1f} s, to day {day}"
        deadline = time.monotonic() + 20
        while int(_text(rc, "recip-day").split()[1]) < day + 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        _click(rc, "Pause")
        assert int(_text(rc, "recip-day").split()[1]) >= day + 5  # Play went on in its thread
        assert not [w for w in rc.find(v.Alert).widgets if app.INTERNAL_ERROR in str(w.children)]
    finally:
        rc.close()
