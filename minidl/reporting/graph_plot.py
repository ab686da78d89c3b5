"""A picture of a network's graph (matplotlib): a box per layer with its name and output size, an arrow per
connection, layers placed in rows by depth (the longest path from an input)."""

from __future__ import annotations

from typing import Any


def _size(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_size(s) for s in shape)
    return "x".join("T" if d is None else str(d) for d in shape) or "scalar"


def network_layout(net) -> dict[str, tuple[float, float]]:
    """(x, y) of each layer's box centre by name: y = −depth (the longest path from a source layer), x spreads the
    layers of one depth evenly around 0, in ``net.layers`` order."""
    depth: dict[int, int] = {}
    for i, _ in enumerate(net.layers):
        depth[i] = max((depth[j] + 1 for j, _ in net._srcs[i]), default=0)
    rows: dict[int, list[int]] = {}
    for i in range(len(net.layers)):
        rows.setdefault(depth[i], []).append(i)
    pos = {}
    for d, members in rows.items():
        for k, i in enumerate(members):
            pos[net.layers[i].name] = (k - (len(members) - 1) / 2.0, -float(d))
    return pos


def plot_network(net, ax: Any = None):
    """Draw ``net`` (a :class:`minidl.Network`, a chain or a graph) on ``ax`` (a new figure when None): boxes with
    layer names and output sizes, arrows for connections (labelled with the port when a layer has several).
    Returns the Axes.

    >>> import minidl as dl
    >>> from minidl import layers as L
    >>> import matplotlib; matplotlib.use("Agg")
    >>> net = dl.Network([L.FeatureInput(3), L.FullyConnected(2)]).initialize()
    >>> ax = plot_network(net)
    >>> [t.get_text() for t in ax.texts][:2]
    ['featureinput_1\\n3', 'fc_1\\n2']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if ax is None:
        import matplotlib.pyplot as plt

        height = 1.0 + 0.9 * (1 + max(-y for _, y in network_layout(net).values()))
        _, ax = plt.subplots(figsize=(6, min(height, 40.0)))
    pos = network_layout(net)
    by_index = {i: layer for i, layer in enumerate(net.layers)}
    for i, layer in by_index.items():
        x, y = pos[layer.name]
        ax.text(x, y, f"{layer.name}\n{_size(layer.output_shape)}", ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "#e8eef7", "edgecolor": "#4a6fa5"}, zorder=3)
        for q, (j, p) in enumerate(net._srcs[i]):
            src = by_index[j]
            x0, y0 = pos[src.name]
            ax.annotate("", xy=(x, y + 0.18), xytext=(x0, y0 - 0.18),
                        arrowprops={"arrowstyle": "->", "color": "#555555"}, zorder=2)
            ports = [src.output_names[p]] if len(src.output_names) > 1 else []
            ports += [layer.input_names[q]] if len(layer.input_names) > 1 else []
            if ports:
                ax.annotate("→".join(ports), xy=((x + x0) / 2, (y + y0) / 2), fontsize=6, color="#555555",
                            ha="center", va="center")
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    ax.set_axis_off()
    return ax
