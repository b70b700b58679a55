"""The chart data of the classification matrices: plain dicts for json_script, no queries."""

from django.urls import reverse

from classification.models import SEGMENTS

from .explain import MODEL_AXES, segment_name

QUADRANT_MODELS = ("four_s", "bensaou")
# (x high, y high) -> segment, as the scoring engine decides it.
QUADRANTS: dict[str, dict[tuple[bool, bool], str]] = {
    "four_s": {
        (True, True): "strategic",
        (True, False): "star",
        (False, True): "status",
        (False, False): "streamline",
    },
    "bensaou": {
        (False, False): "market_exchange",
        (True, False): "captive_buyer",
        (False, True): "captive_supplier",
        (True, True): "strategic_partnership",
    },
}
AXIS_KEYS = {"four_s": ("a", "b"), "bensaou": ("buyer", "supplier"), "millman_wilson": ("x", "y")}


def _axis_label(model: str, key: str) -> str:
    return dict(MODEL_AXES[model]).get(key, key)


def matrix_chart(*, model: str, points: list[dict], counts: dict[str, int], params: dict) -> dict:
    """Everything charts.js needs to draw one model's matrix: Webster's bars from the counts per
    segment, the other models' points (all accounts, or an even sample of them)."""
    if model == "webster":
        counts = {**dict.fromkeys(SEGMENTS[model], 0), **counts}
        return {
            "kind": "distribution",
            "model": model,
            "bars": [
                {
                    "segment": s,
                    "label": segment_name(s),
                    "count": n,
                    "url": f"{reverse('dashboard:portfolio')}?segment={model}:{s}",
                }
                for s, n in counts.items()
            ],
        }
    x_key, y_key = AXIS_KEYS[model]
    chart = {
        "kind": "scatter",
        "model": model,
        "x": {"key": x_key, "label": _axis_label(model, x_key)},
        "y": {"key": y_key, "label": _axis_label(model, y_key)},
        "segments": [{"segment": s, "label": segment_name(s)} for s in SEGMENTS[model]],
        "points": [
            {
                "x": p["axes"].get(x_key),
                "y": p["axes"].get(y_key),
                "name": p["name"] + (f" · {p['country']}" if p["country"] else " · Global"),
                "segment": p["segment"],
                "url": reverse("dashboard:account", args=[p["account_id"]]),
            }
            for p in points
            if p["axes"].get(x_key) is not None and p["axes"].get(y_key) is not None
        ],
    }
    if model in QUADRANT_MODELS:
        cut = params["cutoff"] if model == "four_s" else params["high_threshold"]
        chart["cutoff"] = {"x": cut, "y": cut}
        chart["quadrants"] = [
            {"x_high": xh, "y_high": yh, "segment": s, "label": segment_name(s)}
            for (xh, yh), s in QUADRANTS[model].items()
        ]
    else:
        thresholds = params["stage_thresholds"]
        names = ["pre_kam", *thresholds.keys()]
        edges = [0, *thresholds.values(), 100]
        chart["bands"] = [
            {"segment": s, "label": segment_name(s), "from": edges[i], "to": edges[i + 1]}
            for i, s in enumerate(names)
        ]
    return chart
