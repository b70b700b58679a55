"""Plain-language wording for classification results: indicators, axes, flags and segments.

The scoring engine stores machine names (see docs/classification.md); the pages show these words.
"""

from classification.models import SEGMENTS, KamModel, segment_label

MODEL_AXES: dict[str, tuple[tuple[str, str], ...]] = {
    "four_s": (("a", "Customer attractiveness"), ("b", "Our relative strength")),
    "millman_wilson": (
        ("x", "Nature of the relationship (X)"),
        ("y", "Involvement (Y)"),
        ("s", "Stage score"),
    ),
    "bensaou": (
        ("buyer", "Customer's specific investment"),
        ("supplier", "Our specific investment"),
        ("complexity", "Complexity of what we supply"),
    ),
    "webster": (("relationship", "Relationship type"),),
}

METRICS: dict[str, str] = {
    "revenue_12m": "Net sales, last 12 months",
    "revenue_prev_12m": "Net sales, previous 12 months",
    "growth_rate": "Revenue growth over the previous year",
    "gross_margin_pct": "Gross margin",
    "purchases_12m": "Our purchases from the customer",
    "order_count_12m": "Orders in 12 months",
    "line_penetration": "Share of our product lines bought",
    "wallet_estimate": "Customer's yearly spend in our categories",
    "share_of_wallet": "Our share of the customer's wallet",
    "tenure_years": "Years of relationship",
    "active_contacts": "Contacts met in 12 months",
    "functions_engaged": "Functions engaged",
    "hierarchy_levels": "Seniority levels engaged",
    "interactions_12m": "Interactions in 12 months",
    "joint_projects": "Joint projects",
    "has_active_plan": "Has an active account plan",
    "customer_investment": "Customer's investments in us",
    "supplier_investment": "Our investments in the customer",
    "contract_type": "Contract type",
    "supplier_status": "Our supplier status",
    "previous_supplier_status": "Previous supplier status",
    "info_sharing": "Information sharing (0-3)",
    "strategic_fit": "Strategic fit (rating)",
    "openness": "Openness (rating)",
    "satisfaction": "Satisfaction (rating)",
    "customisation": "Customisation (rating)",
    "technical_novelty": "Technical novelty (rating)",
    "change_frequency": "Change frequency (rating)",
    "termination_notice": "Termination notice given",
    "child_accounts_partnership": "National accounts in partnership or higher",
    "is_key_account": "Key account",
}

FLAGS: dict[str, str] = {
    "unbalanced": "X and Y are more than 30 points apart: terms and people are out of step.",
    "uncoupling:growth": "Revenue is falling sharply: the relationship may be uncoupling.",
    "uncoupling:notice": "The customer gave notice on a contract.",
    "uncoupling:status_drop": "Our supplier status dropped since the previous assessment.",
    "over_designed": "Both sides invest heavily, but what we supply is simple.",
    "under_designed": "Nobody invested, but what we supply is complex.",
    "held": "An axis is near the cut-off and kept its previous side.",
    "over_capacity": "More strategic accounts than the organisation can serve at this level.",
    "key_account_candidate": "Not a key account, but strategic or star: consider proposing it.",
    "review_key_status": "A key account in streamline: review its key status.",
}


def segment_name(segment: str) -> str:
    return segment_label(segment) if segment else ""


def model_label(model: str) -> str:
    return dict(KamModel.choices).get(model, model)


def metric_label(name: str) -> str:
    if name in METRICS:
        return METRICS[name]
    if name in SEGMENTS.get("webster", ()):
        return f"Webster rule: {segment_label(name)}"
    if name.startswith("hysteresis_"):
        return f"Hysteresis on axis {name.removeprefix('hysteresis_').upper()}"
    return name.replace("_", " ").capitalize()


def flag_label(flag: str) -> str:
    if flag in FLAGS:
        return FLAGS[flag]
    if flag.startswith("low_confidence:"):
        metric = metric_label(flag.split(":", 1)[1])
        return f"Missing data ({metric}): scored as 50, treat the result as provisional."
    return flag.replace("_", " ")


def format_raw(value: object) -> str:
    """A raw indicator value as a person reads it."""
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{metric_label(k).lower()}: {format_raw(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(format_raw(v) for v in value)
    return str(value).replace("_", " ")


def explanation_rows(records: list[dict], model: str) -> list[dict]:
    """Explanation records in display order, each with readable text."""
    axes = dict(MODEL_AXES.get(model, ()))
    rows = []
    for record in records:
        rows.append(
            {
                "axis": axes.get(record.get("axis") or "", record.get("axis") or ""),
                "indicator": metric_label(record.get("indicator", "")),
                "raw": format_raw(record.get("raw_value")),
                "points": record.get("points"),
                "weight": record.get("weight") or 0,
                "contribution": record.get("contribution") or 0,
                "note": record.get("note") or "",
            }
        )
    return rows
