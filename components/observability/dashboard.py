"""The stack's CloudWatch dashboard: one screen, built only from ``Metric`` objects of resources the stack
creates (the same ones the alarms watch, and the alarms' own metric math), plus the state of every alarm."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.observability.alarms import Alarm, Metric

#: The dashboard grid is 24 units wide.
GRID_WIDTH = 24
WIDGET_HEIGHT = 6


@dataclass(frozen=True)
class Graph:
    title: str
    metrics: Sequence[Metric]
    stacked: bool = False
    expression: str | None = None
    """Metric math over ``m1``, ``m2``...: drawn instead of the metrics, which become its hidden inputs."""

    @classmethod
    def of_alarm(cls, title: str, alarm: Alarm) -> Graph:
        """Exactly what ``alarm`` compares with its threshold."""
        return cls(title, alarm.metrics, expression=alarm.expression)


@dataclass(frozen=True)
class Row:
    """A titled row of graphs, side by side."""

    title: str
    graphs: Sequence[Graph]


def _metric_line(metric: Metric, **options: Any) -> list[Any]:
    """``[namespace, name, dim, value, ..., {"stat": ...}]``: the dashboard body's metric array."""
    line: list[Any] = [metric.namespace, metric.name]
    for dimension, value in metric.dimensions.items():
        line += [dimension, value]
    return [*line, {"stat": metric.stat, "region": metric.region, **options}]


def _lines(graph: Graph, region: str) -> list[list[Any]]:
    if graph.expression is None:
        return [_metric_line(metric) for metric in graph.metrics]
    inputs = [
        _metric_line(metric, id=f"m{index}", visible=False) for index, metric in enumerate(graph.metrics, start=1)
    ]
    return [*inputs, [{"expression": graph.expression, "label": graph.title, "id": "e1", "region": region}]]


def _graph(graph: Graph, x: int, y: int, width: int) -> dict[str, Any]:
    (region,) = {metric.region for metric in graph.metrics}
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": WIDGET_HEIGHT,
        "properties": {
            "title": graph.title,
            "region": region,
            "view": "timeSeries",
            "stacked": graph.stacked,
            "period": 60,
            "metrics": _lines(graph, region),
        },
    }


def dashboard_body(rows: Sequence[Row], alarm_arns: Sequence[pulumi.Input[str]]) -> pulumi.Output[str]:
    """The dashboard JSON: a text header per row, its graphs sharing the width, and the alarms' states on top."""
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": GRID_WIDTH,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns), "sortBy": "stateUpdatedTimestamp"},
        }
    ]
    y = 3
    for row in rows:
        widgets.append(
            {
                "type": "text",
                "x": 0,
                "y": y,
                "width": GRID_WIDTH,
                "height": 1,
                "properties": {"markdown": f"## {row.title}"},
            }
        )
        y += 1
        width = GRID_WIDTH // len(row.graphs)
        widgets += [_graph(graph, index * width, y, width) for index, graph in enumerate(row.graphs)]
        y += WIDGET_HEIGHT
    return pulumi.Output.from_input({"widgets": widgets}).apply(json.dumps)
