"""NetTrain's results: every property of the reference page (docs/semantics-wolfram.md), the results object.

``prop`` is a property name, a custom spec ``{"Property": p, "Form": "List" | "TransposedList" | "Plot",
"Interval": "Batch" | "Round" | n rounds | Quantity(...)}``, a list of those (a list of values comes back), or "All"
/ "ResultsObject"
(a :class:`NetTrainResultsObject`).  Names may also be written in snake_case (``"batch_loss_list"``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from minidl._checks import did_you_mean
from minidl.wolfram.options import snake

__all__ = ["PROPERTIES", "EXPENSIVE", "NetTrainResultsObject", "parse_props", "property_name", "loss_plot",
           "measurement_plot", "custom_value"]

#: Every property and its meaning (the reference page's table).
PROPERTIES: dict[str, str] = {
    "TrainedNet": "the best trained net found (the best validation round's, else the last)",
    "BatchesPerRound": "the number of batches in a round",
    "BatchLossList": "the mean loss of each batch update",
    "BatchMeasurementsLists": "the training measurements of each batch update",
    "BatchPermutation": "the indices of the training examples of each batch (positions in the data as given)",
    "BatchSize": "the effective BatchSize",
    "BestValidationRound": "the round of the returned TrainedNet (None without a validation set)",
    "CheckpointingFiles": "the checkpoint files written during training",
    "ExampleLosses": "the loss each example received during training: (examples, rounds), NaN where not seen",
    "ExamplesProcessed": "the total number of examples processed",
    "FinalLearningRate": "the learning rate at the end of training",
    "FinalNet": "the most recent net of training, whatever its validation performance",
    "FinalPlots": "the plots of the loss and every measurement, by name",
    "InitialLearningRate": "the learning rate at the start of training",
    "LossPlot": "a plot of the evolution of the mean training loss",
    "MeanBatchesPerSecond": "the mean number of batches processed per second",
    "MeanExamplesPerSecond": "the mean number of examples processed per second",
    "NetTrainInputForm": "an expression of the original call",
    "OptimizationMethod": "the name of the optimization method used",
    "Properties": "the list of available properties",
    "ReasonTrainingStopped": "a short description of why training stopped",
    "ResultsObject": "a NetTrainResultsObject holding most properties",
    "RoundLoss": "the mean loss of the most recent round",
    "RoundLossList": "the mean loss of each round",
    "RoundMeasurements": "the training measurements of the most recent round",
    "RoundMeasurementsLists": "the training measurements of each round",
    "RoundPositions": "the batch number at the end of each round",
    "TargetDevice": "the device used for training",
    "TotalBatches": "the total number of batches of training",
    "TotalRounds": "the total number of rounds of training (a round stopped part-way counts)",
    "TotalTrainingTime": "the total time spent training, in seconds",
    "TrainingExamples": "the number of examples in the training set (per round, for a generator)",
    "TrainingNet": "the net as trained: the input net with the loss layer NetTrain attached, final weights",
    "TrainingUpdateSchedule": "the value of TrainingUpdateSchedule",
    "ValidationExamples": "the number of examples in the validation set (None without one)",
    "ValidationLoss": "the mean loss on the validation set at the most recent validation",
    "ValidationLossList": "the mean loss on the validation set at each validation",
    "ValidationMeasurements": "the measurements on the validation set at the most recent validation",
    "ValidationMeasurementsLists": "the measurements on the validation set at each validation",
    "ValidationPositions": "the batch number of each validation",
    "WeightsLearningRateMultipliers": "the learning-rate multiplier of each weight array",
}
#: Properties that cost memory in proportion to the whole run: recorded only when asked for by name.
EXPENSIVE = ("ExampleLosses", "BatchPermutation")


_BY_SNAKE = {snake(k): k for k in PROPERTIES}


def property_name(name: str, arg: str = "prop") -> str:
    """The Wolfram name of a property given in either spelling; an unknown name is an error listing close ones."""
    if isinstance(name, str):
        if name in ("All", "all"):
            return "ResultsObject"
        if name in PROPERTIES:
            return name
        if name in _BY_SNAKE:
            return _BY_SNAKE[name]
        hint = did_you_mean(name, PROPERTIES, n=3)
        raise ValueError(f"{arg}: unknown property {name!r}{hint}; allowed: {', '.join(PROPERTIES)}, 'All', or a "
                         "custom spec {'Property': p, 'Form': f, 'Interval': i}")
    raise TypeError(f"{arg}: got {type(name).__name__}; allowed: a property name, a custom spec dict, a list of "
                    "them, or 'All'")


def _custom(spec: Mapping, arg: str) -> dict[str, Any]:
    from minidl.wolfram.options import Interval, camel_keys, choice, interval_spec, unknown_key

    spec = camel_keys(spec, arg)
    for key in spec:
        if key not in ("Property", "Form", "Interval"):
            raise unknown_key(arg, key, ("Property", "Form", "Interval"))
    if "Property" not in spec:
        raise ValueError(f"{arg}: a custom property spec needs 'Property' (a progress key such as 'RoundLoss', or a "
                         "function of the progress info)")
    p = spec["Property"]
    if not callable(p) and not isinstance(p, str):
        raise TypeError(f"{arg}: 'Property' got {type(p).__name__}; allowed: a progress key or a function")
    form = choice(f"{arg} 'Form'", spec.get("Form", "List"), ("List", "TransposedList", "Plot"))
    return {"Property": p, "Form": form, "Interval": interval_spec(f"{arg} 'Interval'", spec.get("Interval"),
                                                                   Interval("rounds", 1))}


def parse_props(prop, arg: str = "prop") -> tuple[str, list]:
    """(shape, items): shape "one" | "list" | "object"; items are Wolfram names or custom spec dicts."""
    if prop is None:
        return "one", ["TrainedNet"]
    if isinstance(prop, str) and prop in ("All", "ResultsObject", "results_object", "all"):
        return "object", ["ResultsObject"]
    if isinstance(prop, Mapping):
        return "one", [_custom(prop, arg)]
    if isinstance(prop, (list, tuple)):
        items = [_custom(p, f"{arg}[{i}]") if isinstance(p, Mapping) else property_name(p, f"{arg}[{i}]")
                 for i, p in enumerate(prop)]
        return "list", items
    return "one", [property_name(prop, arg)]


# ------------------------------------------------------------------------------------------------ plots
def _figure():
    from matplotlib.figure import Figure  # no pyplot: no global state, safe without a display

    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    return fig, fig.add_subplot()


def loss_plot(batch: np.ndarray, rounds: np.ndarray, round_pos: np.ndarray, val: np.ndarray,
              val_pos: np.ndarray, ylabel: str = "loss"):
    """A matplotlib Figure: the batch values (thin), round means and validation values against the batch number."""
    fig, ax = _figure()
    x = np.arange(1, len(batch) + 1)
    if len(batch):
        ax.plot(x, batch, color="tab:orange", lw=0.7, alpha=0.6, label="batch")
    if len(rounds):
        ax.plot(round_pos, rounds, color="tab:orange", lw=1.8, marker="o" if len(rounds) < 30 else None, ms=3,
                label="round mean")
    if len(val):
        ax.plot(val_pos, val, color="tab:blue", lw=1.5, ls="--", marker="o" if len(val) < 30 else None, ms=3,
                label="validation")
    values = np.concatenate([np.asarray(batch, float), np.asarray(val, float)])
    finite = values[np.isfinite(values)]
    if ylabel == "loss" and finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("batch")
    ax.set_ylabel(ylabel)
    if len(batch) or len(val):
        ax.legend(loc="best", fontsize="small")
    return fig


def measurement_plot(name: str, batch_rows: list[dict], round_rows: list[dict], round_pos, val_rows: list[dict],
                     val_pos):
    """The plot of one measurement (FinalPlots)."""
    def col(rows):
        return np.array([r[name] for r in rows], dtype=float)

    return loss_plot(col(batch_rows), col(round_rows), np.asarray(round_pos), col(val_rows), np.asarray(val_pos),
                     ylabel="loss" if name == "Loss" else name)


def custom_value(form: str, values: list, positions: list[int], title: str):
    """A custom property's value in its Form: the list, the transposed list, or a plot."""
    if form == "List":
        return list(values)
    if form == "TransposedList":
        if values and all(isinstance(v, Mapping) for v in values):
            return {k: [v.get(k) for v in values] for k in values[0]}
        if values and all(isinstance(v, (list, tuple, np.ndarray)) for v in values):
            return [list(col) for col in zip(*values)]
        return list(values)
    fig, ax = _figure()
    ax.plot(positions, np.asarray(values, dtype=float), marker="o" if len(values) < 30 else None, ms=3)
    ax.set_xlabel("batch")
    ax.set_ylabel(title)
    return fig


# ------------------------------------------------------------------------------------------------ the object
class NetTrainResultsObject(Mapping):
    """Wolfram's NetTrainResultsObject: ``results["TrainedNet"]``, ``results.properties``, ``results.trained_net``.

    Plots are drawn on first access.  ``results["Properties"]`` lists the keys.
    """

    def __init__(self, values: dict[str, Any], lazy: dict[str, Callable[[], Any]] | None = None):
        self._values = dict(values)
        self._lazy = dict(lazy or {})

    @property
    def properties(self) -> list[str]:
        """The property names this object holds."""
        return [k for k in PROPERTIES if k in self._values or k in self._lazy]

    def __getitem__(self, key: str):
        if key == "Properties":
            return self.properties
        name = property_name(key, "results[...]") if key not in self._values else key
        if name in self._values:
            return self._values[name]
        if name in self._lazy:
            self._values[name] = self._lazy.pop(name)()
            return self._values[name]
        if name in EXPENSIVE:
            raise KeyError(f"{name!r} was not recorded: ask for it by name, e.g. prop=['ResultsObject', {name!r}]")
        raise KeyError(f"{name!r} is not in this results object; properties: {', '.join(self.properties)}")

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[_BY_SNAKE.get(name, name)]
        except (KeyError, ValueError) as e:
            raise AttributeError(str(e)) from None

    def __iter__(self):
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)

    def __contains__(self, key) -> bool:
        return key in self._values or key in self._lazy or key == "Properties"

    def __repr__(self) -> str:
        def get(k):
            return self._values.get(k)
        t = get("TotalTrainingTime")
        parts = [f"rounds: {get('TotalRounds')}", f"batches: {get('TotalBatches')}",
                 f"examples: {get('TrainingExamples')}", f"time: {t:.3g}s" if t is not None else "time: ?",
                 f"method: {get('OptimizationMethod')}", f"batch size: {get('BatchSize')}",
                 f"round loss: {get('RoundLoss')!r}"]
        if get("ValidationLoss") is not None:
            parts.append(f"validation loss: {get('ValidationLoss')!r}")
        parts.append(f"stopped: {get('ReasonTrainingStopped')}")
        return f"NetTrainResultsObject({', '.join(parts)})"

