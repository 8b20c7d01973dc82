"""Network kinds (the registry), network files, and your own graph handed to the model."""

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim import ReciprocityModel, ScenarioError, load_scenario, network
from sim.cli import app
from sim.network import (
    NETWORK_KINDS,
    TRAIT_ATTRIBUTES,
    NetworkKind,
    build_network,
    from_networkx,
    read_edgelist,
    read_graphml,
)


def _spec(kind: str, **fields):
    return load_scenario("pushy_vs_active", overrides={"network.kind": kind, **{
        f"network.{k}": v for k, v in fields.items()}}).network


def _is_simple_undirected(net) -> bool:
    edges = net.edges()
    mirrored = {(b, a) for a, b in edges.tolist()}
    both = {(a, b) for a, b in edges.tolist()} | mirrored
    neighbours = {(i, int(j)) for i in range(net.n) for j in net.neighbours(i)}
    return both == neighbours and not (edges[:, 0] == edges[:, 1]).any()


# One check per registered kind: adding a kind to the registry without a check here fails.
KIND_CHECKS = {
    "watts_strogatz": (dict(k=6, p=0.0), lambda net: (net.degrees() == 6).all()),
    "erdos_renyi": (dict(mean_degree=8.0), lambda net: 6.5 < net.degrees().mean() < 9.5),
    "stochastic_block": (dict(blocks=4, p_in=0.2, p_out=0.0),
                         lambda net: all(a // 100 == b // 100 for a, b in net.edges().tolist())),
    "barabasi_albert": (dict(m=3), lambda net: net.n_edges == 3 * (400 - 3)),
    "complete": ({}, lambda net: (net.degrees() == 399).all()),
}


def test_every_generated_kind_has_a_check_and_every_kind_is_described():
    generated = {name for name, kind in NETWORK_KINDS.items() if not kind.from_file}
    assert generated == set(KIND_CHECKS)
    for kind in NETWORK_KINDS.values():
        assert isinstance(kind, NetworkKind) and kind.description and kind.build


@pytest.mark.parametrize("kind", sorted(KIND_CHECKS))
def test_generated_kinds_build_simple_graphs_with_their_shape(kind):
    fields, check = KIND_CHECKS[kind]
    graph = build_network(_spec(kind, **fields), 400, np.random.default_rng(3))
    assert graph.n == 400 and graph.labels is None
    assert _is_simple_undirected(graph.network)
    assert check(graph.network)
    again = build_network(_spec(kind, **fields), 400, np.random.default_rng(3))
    np.testing.assert_array_equal(graph.network.indices, again.network.indices)


def test_complete_graph_in_numpy_matches_networkx():
    from sim.network import complete

    ours = complete(None, 50, np.random.default_rng(0))
    theirs = from_networkx(nx.complete_graph(50)).network
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)


def test_the_scenario_schema_offers_exactly_the_registered_kinds():
    with pytest.raises(ScenarioError) as info:
        load_scenario("pushy_vs_active", overrides={"network.kind": "ring"})
    for name in NETWORK_KINDS:
        assert name in str(info.value)


# --- your own graph ------------------------------------------------------------------------------


def test_a_networkx_graph_becomes_the_buyers_with_labels_and_traits():
    graph = nx.Graph()
    graph.add_nodes_from([("ann", {"budget": 900.0, "segment": "vip", "punisher": True}),
                          ("bo", {"need": 0.9}), ("cy", {}), ("dee", {"base_compliance": 0.5})])
    graph.add_edges_from([("ann", "bo"), ("bo", "cy"), ("cy", "dee")])
    model = ReciprocityModel("pushy_vs_active", graph=graph, rng=1)
    assert model.config.buyers.n == 4
    assert model.buyer_labels.tolist() == ["ann", "bo", "cy", "dee"]
    buyers = model.engine.buyers
    assert buyers.budget[0] == 900.0 and buyers.need[1] == 0.9 and buyers.punisher[0]
    assert buyers.segment.tolist() == ["vip", None, None, None]
    assert buyers.base_logit[3] == 0.0  # logit(0.5): that buyer's own baseline
    assert model.engine.network.neighbours(1).tolist() == [0, 2]
    assert model.buyers[0].label == "ann" and model.buyers[0].segment == "vip"
    model.run_for(5)


def test_integer_labels_keep_their_numbers_and_order():
    graph = nx.Graph([(10, 2), (2, 0), (0, 1)])
    model = ReciprocityModel("pushy_vs_active", graph=graph, rng=1, build_agents=False)
    assert model.buyer_labels.tolist() == [0, 1, 2, 10]
    assert model.engine.network.neighbours(3).tolist() == [2]  # node 10 is buyer 3


def test_buyers_n_follows_the_graph_and_a_contradicting_override_is_an_error():
    graph = nx.path_graph(30)
    model = ReciprocityModel("pushy_vs_active", graph=graph, overrides={"buyers.n": 30}, rng=1)
    assert model.config.buyers.n == 30
    with pytest.raises(ScenarioError, match=r"buyers.n = 50, but the graph has 30 nodes"):
        ReciprocityModel("pushy_vs_active", graph=graph, overrides={"buyers.n": 50}, rng=1)


def test_a_bad_trait_attribute_names_the_node_and_what_is_allowed():
    graph = nx.path_graph(3)
    graph.nodes[1]["need"] = 7
    with pytest.raises(ScenarioError, match=r"node 1: need = 7: allowed: a number in \[0, 1\]"):
        from_networkx(graph)
    graph.nodes[1]["need"] = 0.5
    graph.nodes[2]["budget"] = 10**400  # too large for a float: an error, not a traceback
    with pytest.raises(ScenarioError, match=r"node 2: budget = 1000.*allowed: a number"):
        from_networkx(graph)


def test_same_graph_same_seed_same_run_and_labels_in_agents():
    graph = nx.barabasi_albert_graph(200, 2, seed=4)
    a = ReciprocityModel("pushy_vs_active", graph=graph, rng=9, build_agents=False)
    b = ReciprocityModel("pushy_vs_active", graph=graph, rng=9, build_agents=False)
    a.run_for(30)
    b.run_for(30)
    assert a.datacollector.get_model_vars_dataframe().equals(b.datacollector.get_model_vars_dataframe())


# --- network files -------------------------------------------------------------------------------


def _scenario_with_file(tmp_path, kind: str, text: str | bytes, name: str = "net.txt",
                        extra: str = ""):
    data = text.encode() if isinstance(text, str) else text
    (tmp_path / name).write_bytes(data)
    path = tmp_path / "sc.toml"
    path.write_text(f'[network]\nkind = "{kind}"\npath = "{name}"\n{extra}\n'
                    '[[sellers]]\nstrategy = "active"\n')
    return path


def test_an_edge_list_file_gives_buyers_n_labels_and_comments(tmp_path):
    path = _scenario_with_file(tmp_path, "edgelist", "# a comment\n10 2\n2 0  # trailing\n\n0 1\n")
    config = load_scenario(path)
    assert config.buyers.n == 4
    model = ReciprocityModel(path, rng=1, build_agents=False)
    assert model.buyer_labels.tolist() == [0, 1, 2, 10]


def test_graphml_node_attributes_become_traits(tmp_path):
    graph = nx.Graph()
    graph.add_node("a", budget=300.0, segment="north")
    graph.add_node("b", detection_skill=0.9)
    graph.add_edge("a", "b")
    nx.write_graphml(graph, tmp_path / "g.graphml")
    path = tmp_path / "sc.toml"
    path.write_text('[network]\nkind = "graphml"\npath = "g.graphml"\n'
                    '[[sellers]]\nstrategy = "active"\n')
    model = ReciprocityModel(path, rng=1, build_agents=False)
    assert model.buyer_labels.tolist() == ["a", "b"]
    assert model.engine.buyers.budget[0] == 300.0
    assert model.engine.buyers.detection_skill[1] == 0.9
    assert model.engine.buyers.segment.tolist() == ["north", None]


@pytest.mark.parametrize(("content", "must_say"), [
    ("1 2\n2 3 0.5\n", ["line 2", "'2 3 0.5' has 3 fields", "two node labels"]),
    ("source target\n1 2\n2 3\n", ["line 1", "looks like a header"]),
    (b"1 2\n\xff\xfe 3\n", ["line 2", "not UTF-8"]),
    ("# only a comment\n\n", ["no edges"]),
    ("", ["is empty"]),
])
def test_bad_edge_list_files_exit_2_naming_file_line_and_allowed(tmp_path, content, must_say):
    path = _scenario_with_file(tmp_path, "edgelist", content)
    result = CliRunner().invoke(app, ["run", str(path), "--steps", "2", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())  # the console wraps long messages
    assert "net.txt" in said and "Traceback" not in said
    for fragment in must_say:
        assert fragment in said, (fragment, said)
    assert not (tmp_path / "out").exists()


def test_missing_directory_and_device_network_files_are_clear_errors(tmp_path):
    sc = _scenario_with_file(tmp_path, "edgelist", "1 2\n")
    for target, message in [("nope.txt", "does not exist"), (".", "not a regular file"),
                            ("/dev/zero", "not a regular file")]:
        text = sc.read_text().replace('path = "net.txt"', f'path = "{target}"')
        sc.write_text(text)
        with pytest.raises(ScenarioError, match=message):
            load_scenario(sc)
        sc.write_text(text.replace(f'path = "{target}"', 'path = "net.txt"'))


def test_a_file_contradicting_the_scenarios_own_buyers_n_is_an_error(tmp_path):
    path = _scenario_with_file(tmp_path, "edgelist", "1 2\n2 3\n", extra="[buyers]\nn = 7\n")
    with pytest.raises(ScenarioError, match=r"buyers.n = 7, but .* has 3 nodes"):
        load_scenario(path)


def test_bad_graphml_names_the_line(tmp_path):
    path = _scenario_with_file(tmp_path, "graphml", "<graphml>\n<graph>\n<node id='a'>\n</graph>",
                               name="g.graphml")
    with pytest.raises(ScenarioError, match=r"g.graphml, line 4, column 2: not valid GraphML "
                                            r"\(mismatched tag\); allowed: a GraphML file"):
        load_scenario(path)


@pytest.mark.parametrize(("body", "must_say"), [
    ("<node id='a'/>\n  <edge source='a'/>", "line 3, column 2: an <edge> without 'target'"),
    ("<node id='a'/><node/>", "line 2, column 14: a <node> without 'id'"),
    ("<x:node id='a'/>", "line 2, column 0: not valid GraphML (unbound prefix)"),
])
def test_graphml_without_ids_or_with_unbound_prefixes_exits_2_naming_the_place(tmp_path, body,
                                                                              must_say):
    path = _scenario_with_file(tmp_path, "graphml", f"<graphml><graph>\n{body}</graph></graphml>",
                               name="g.graphml")
    result = CliRunner().invoke(app, ["run", str(path), "--steps", "2", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "g.graphml" in said and must_say in said and "Traceback" not in said, said


GRAPHML_NS = 'xmlns="http://graphml.graphdrawing.org/xmlns"'


def test_graphml_reads_the_same_with_or_without_a_namespace_or_prefix(tmp_path):
    body = ('<{p}key id="k" for="node" attr.name="need"/><{p}graph>'
            '<{p}node id="n1"><{p}data key="k">0.25</{p}data></{p}node><{p}node id="n0"/>'
            '<{p}edge source="n1" target="n0"/></{p}graph>')
    files = {"plain": f"<graphml>{body.format(p='')}</graphml>",
             "default namespace": f"<graphml {GRAPHML_NS}>{body.format(p='')}</graphml>",
             "prefixed": ('<g:graphml xmlns:g="http://graphml.graphdrawing.org/xmlns">'
                          f"{body.format(p='g:')}</g:graphml>")}
    for name, text in files.items():
        (tmp_path / "g.graphml").write_text(text)
        graph = read_graphml(tmp_path / "g.graphml")
        assert graph.labels.tolist() == ["n1", "n0"], name
        assert graph.traits["need"].tolist()[0] == 0.25 and math.isnan(graph.traits["need"][1])
        assert graph.network.edges().tolist() == [[0, 1]]


def test_graphml_defaults_first_appearance_and_data_belonging_to_other_elements(tmp_path):
    (tmp_path / "g.graphml").write_text(f"""<graphml {GRAPHML_NS}>
<key id="b" for="all" attr.name="budget"><default>250</default></key>
<key id="s" for="node" attr.name="segment"/><key id="e" for="edge" attr.name="need"/>
<graph><data key="b">999</data>
<edge source="m" target="k"><data key="b">555</data><data key="e">0.5</data></edge>
<node id="k"><data key="b"/></node>
<node id="m"><port name="p"><data key="b">777</data></port><data key="s">a&amp;b</data>
  <data key="b">1&#48;0</data></node>
<node id="outer"><data key="b">30</data><graph><node id="inner"><data key="b">40</data></node>
  </graph></node>
<node id="k"><data key="s"><![CDATA[<north>]]></data></node>
</graph></graphml>""")
    graph = read_graphml(tmp_path / "g.graphml")
    # first appearance: edge ends before the nodes; a node counts when it closes (inner first)
    assert graph.labels.tolist() == ["m", "k", "inner", "outer"]
    # graph, edge and port data are not a node's; an empty <data> takes the key's default
    assert graph.traits["budget"].tolist() == [100.0, 250.0, 40.0, 30.0]
    assert graph.traits["segment"].tolist() == ["a&b", "<north>", None, None]
    assert "need" not in graph.traits


def test_graphml_reader_is_exact_on_a_larger_graph(tmp_path):
    graph = nx.relabel_nodes(nx.gnm_random_graph(300, 900, seed=2), lambda n: (n * 37) % 300)
    for node in graph:
        graph.nodes[node].update(budget=10.0 + node, segment=f"s{node % 3}", reciprocator=node % 2)
    nx.write_graphml(graph, tmp_path / "g.graphml")
    ours, expected = read_graphml(tmp_path / "g.graphml"), from_networkx(graph)
    assert ours.labels.tolist() == expected.labels.tolist() == list(range(300))
    assert np.array_equal(ours.network.indptr, expected.network.indptr)
    assert np.array_equal(ours.network.indices, expected.network.indices)
    assert ours.traits.keys() == expected.traits.keys()
    for name, values in expected.traits.items():
        assert ours.traits[name].tolist() == values.tolist(), name


def test_edge_list_reader_is_exact_on_a_larger_graph(tmp_path):
    graph = nx.gnm_random_graph(300, 900, seed=2)
    nx.write_edgelist(graph, tmp_path / "e.txt", data=False)
    ours = read_edgelist(tmp_path / "e.txt")
    expected = from_networkx(nx.relabel_nodes(graph, {n: n for n in graph}))
    present = sorted(n for n in graph if graph.degree(n))  # isolated nodes are not in the file
    assert ours.labels.tolist() == present and not math.isnan(ours.n)
    relabel = {label: i for i, label in enumerate(present)}
    edges = {tuple(sorted((relabel[a], relabel[b]))) for a, b in graph.edges()}
    assert {tuple(e) for e in ours.network.edges().tolist()} == edges
    assert expected.n == 300


def test_mean_neighbours_says_what_the_parameters_imply():
    assert _spec("watts_strogatz", k=6).mean_neighbours(400) == 6
    assert _spec("erdos_renyi", p=0.1, mean_degree=0.0).mean_neighbours(101) == pytest.approx(10)
    assert _spec("erdos_renyi", mean_degree=4.0).mean_neighbours(101) == 4.0
    assert _spec("complete").mean_neighbours(50) == 49
    built = build_network(_spec("barabasi_albert", m=3), 400, np.random.default_rng(1)).network
    assert _spec("barabasi_albert", m=3).mean_neighbours(400) == pytest.approx(
        built.degrees().mean())


def test_the_readme_lists_every_network_kind():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    listed = next(line for line in readme.splitlines() if line.startswith('kind = "barabasi_albert"'))
    named = {word.strip(" ,") for word in listed.split("#", 1)[1].split()}
    assert named | {"barabasi_albert"} == set(NETWORK_KINDS)


TRAIT_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["0.5", " 2 ", "1_0", "nan", "inf", "1e3", "", "true", " FALSE ", "1", "0",
                     "yes", "0x1", "٣", "0.0", "1.0"]),
    st.builds(np.float64, st.floats(0, 2)), st.just([1, 2]))


GOOD_TEXTS = st.sampled_from([None, "0.5", " 0.25 ", "1", "0", "True", "false ", "2e2", "1_5"])


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(TRAIT_ATTRIBUTES)),
       values=st.one_of(st.lists(TRAIT_VALUES, min_size=1, max_size=6),
                        st.lists(GOOD_TEXTS, min_size=1, max_size=6)))
def test_traits_converted_at_once_are_what_the_value_by_value_loop_gives(name, values):
    labels = np.arange(len(values))

    def convert(at_once: bool):
        with pytest.MonkeyPatch.context() as patch:
            if not at_once:
                patch.setattr(network, "_trait_values_at_once", lambda *args: None)
            try:
                return network._trait_values(name, values, "f", labels).tolist()
            except (ScenarioError, OverflowError) as exc:
                return repr(exc)

    assert str(convert(True)) == str(convert(False))


def _plain_reference(text: str) -> bool:
    try:
        return str(int(text)) == text
    except ValueError:
        return False


ID_TEXTS = st.one_of(st.integers(-10**19, 10**19).map(str), st.sampled_from(
    ["0", "-0", "007", "+3", " 3", "3 ", "1_0", "٣", "x", "", "9223372036854775807",
     "-9223372036854775808", "3.0"]))


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(ID_TEXTS, min_size=1, max_size=8))
def test_plain_integer_ids_are_recognised_exactly(texts):
    numbers = network._plain_integers(texts)
    fits = all(_plain_reference(t) and -2**63 < int(t) < 2**63 for t in texts)
    if numbers is None:  # the most negative int64 may be left to the general path
        assert not fits or "-9223372036854775808" in texts
    else:
        assert fits and numbers.tolist() == [int(t) for t in texts]


@pytest.mark.parametrize("numbers", [[5, 3, 5, 9, 3], [0], [-2, 7, -2], [10**12, 3, 10**12]])
def test_integer_ids_ranked_as_sorted_distinct_values(numbers):
    labels, index = network._rank_integers(np.array(numbers, dtype=np.int64))
    expected_labels, expected_index = np.unique(numbers, return_inverse=True)
    assert labels.tolist() == expected_labels.tolist() and index.tolist() == expected_index.tolist()


@pytest.mark.parametrize(("ids", "labels"), [
    (["10", "2", "-1", "7"], [-1, 2, 7, 10]),        # plain integers: sorted by value
    (["3", "03", "1", "x"], ["3", "03", "1", "x"]),  # otherwise: order of first appearance
    (["3", "+4", "1", "2"], [1, 2, 3, 4]),           # integers all different, however written
])
def test_graphml_integer_ids_sorted_by_value_others_kept_in_order(tmp_path, ids, labels):
    a, b, c, d = ids  # nodes a, b, c; edges a-b, b-c, c-d (d only as an edge end)
    (tmp_path / "g.graphml").write_text(
        f'<graphml {GRAPHML_NS}><graph><node id="{a}"/><node id="{b}"/><node id="{c}"/>'
        f'<edge source="{a}" target="{b}"/><edge source="{b}" target="{c}"/>'
        f'<edge source="{c}" target="{d}"/></graph></graphml>')
    graph = read_graphml(tmp_path / "g.graphml")
    assert graph.labels.tolist() == labels
    buyer = {text: labels.index(int(text) if isinstance(labels[0], int) else text) for text in ids}
    assert graph.network.edges().tolist() == sorted(
        sorted((buyer[x], buyer[y])) for x, y in [(a, b), (b, c), (c, d)])
