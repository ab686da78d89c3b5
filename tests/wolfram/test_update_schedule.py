"""TrainingUpdateSchedule: the part specs it takes, the groups it gives the engine, and a training run."""

import pytest

from minidl.wolfram.options import Span
from minidl.wolfram.parts import Alternatives, part_arrays, update_groups

LAYERS = ["Generator:fc_1", "Generator:tanh_1", "Generator:fc_2", "Discriminator:fc_1", "Discriminator:sig_1",
          "head"]
NAMES = ["Generator:fc_1.weight", "Generator:fc_1.bias", "Generator:fc_2.weight", "Generator:fc_2.bias",
         "Discriminator:fc_1.weight", "Discriminator:fc_1.bias", "head.weight"]
G = [n for n in NAMES if n.startswith("Generator:")]
D = [n for n in NAMES if n.startswith("Discriminator:")]


@pytest.mark.parametrize("part, expected", [
    ("Generator", G),                                             # a nested part: all its arrays
    ("head", ["head.weight"]),                                    # a layer
    ("head.weight", ["head.weight"]),                             # one array by its name
    (0, G), (-1, ["head.weight"]),                                # the n-th part (0-based; from the end)
    (Span(0, 1), G + D), (slice(1, None), D + ["head.weight"]),   # m ;; n
    (("Generator", "fc_2"), ["Generator:fc_2.weight", "Generator:fc_2.bias"]),   # {part1, part2}
    (("Generator", 0, "bias"), ["Generator:fc_1.bias"]),          # {part, n, "array"}
    (("Discriminator", "fc_1", "weight"), ["Discriminator:fc_1.weight"]),
    (["head", "Discriminator"], D + ["head.weight"]),             # spec1 | spec2 (in NAMES order)
    (Alternatives("head", ("Generator", "fc_1")), ["Generator:fc_1.weight", "Generator:fc_1.bias", "head.weight"]),
    ("_", NAMES), ("All", NAMES),
])
def test_part_specs_select_arrays(part, expected):
    assert part_arrays(part, LAYERS, NAMES, "spec") == expected


@pytest.mark.parametrize("part, message", [
    ("Critic", r"spec: got part 'Critic'; allowed: a layer or part name \(Generator, Discriminator, head\)"),
    (5, "layer position 5 is out of range; the net has 3 parts"),
    (("Generator", "fc_9"), "got part 'fc_9' inside 'Generator'"),
    (("Nobody", "fc_1"), "path \\('Nobody', 'fc_1'\\): 'Nobody' is not one part"),
])
def test_unknown_parts_name_what_is_allowed(part, message):
    with pytest.raises(ValueError, match=message):
        part_arrays(part, LAYERS, NAMES, "spec")


def test_groups_cycle_with_counts():
    groups = update_groups([{"Discriminator": 2}, "Generator"], LAYERS, NAMES)
    assert groups == [(frozenset(D), 2), (frozenset(G), 1)]
    assert update_groups([("Generator", 3), ["head", 0]], LAYERS, NAMES) == [
        (frozenset(G), 3), (frozenset(G + ["head.weight"]), 1)]
    assert update_groups("head", LAYERS, NAMES) == [(frozenset(["head.weight"]), 1)]   # one group: cycled alone
    assert update_groups("Automatic", LAYERS, NAMES) is None and update_groups(None, LAYERS, NAMES) is None


@pytest.mark.parametrize("spec, message", [
    ([], r"TrainingUpdateSchedule: got \[\]"),
    ([{"Generator": 0}], r"TrainingUpdateSchedule\[0\]: rule 'Generator' -> 0; allowed: a whole number of steps"),
    ([{"Generator": 1, "head": 2}], "a rule spec -> s is a dict with one entry"),
    (["Generator", "Critic"], r"TrainingUpdateSchedule\[1\]: got part 'Critic'"),
])
def test_bad_schedules_name_the_group(spec, message):
    with pytest.raises(ValueError, match=message):
        update_groups(spec, LAYERS, NAMES)


def test_learning_rate_multipliers_address_nested_parts_and_the_schedule_is_a_property():
    import numpy as np

    from minidl.wolfram import NetTrain
    from minidl.wolfram.graph import NetGraph, NetPort
    from minidl.wolfram.layers import ElementwiseLayer, LinearLayer, NetChain

    g = NetGraph({"body": NetChain([LinearLayer(3), ElementwiseLayer("Tanh")]), "head": LinearLayer(1)},
                 [(NetPort("Input"), "body", "head", NetPort("Output"))], Input=2)
    rng = np.random.default_rng(0)
    data = {"Input": rng.normal(size=(32, 2)), "Output": rng.normal(size=(32, 1))}
    opts = dict(MaxTrainingRounds=2, BatchSize=8, TrainingProgressReporting=None, WorkingPrecision="Real64")
    start = NetTrain(g, data, LearningRateMultipliers=0, **opts)
    res = NetTrain(g, data, "All", LearningRateMultipliers={("body", "fc_1", "weight"): 0}, **opts)
    assert res["WeightsLearningRateMultipliers"]["body:fc_1.weight"] == 0.0
    trained = res["TrainedNet"]
    np.testing.assert_array_equal(trained.params["body:fc_1.weight"], start.params["body:fc_1.weight"])
    assert not np.array_equal(trained.params["body:fc_1.bias"], start.params["body:fc_1.bias"])
    sched = NetTrain(g, data, "TrainingUpdateSchedule", TrainingUpdateSchedule=[{"head": 2}, "body"], **opts)
    assert sched == [{"head": 2}, "body"]
