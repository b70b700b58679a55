"""A realistic, deterministic demo portfolio, built by `manage.py seed_demo`.

Everything follows from one seed. Each phase draws from its own `random.Random`, seeded with the
seed and the phase's name, so the same options always give the same rows: only primary keys and
the `created_at` / `updated_at` stamps differ between two runs. No clock is read here; the
reference date is passed in, and every datetime is aware (the project's time zone).

The data is shaped to exercise every input of the classification models (the spec is
shared/domain/kam-models.md): growth and decline, dormant and lost accounts, two-way trade,
contacts across functions and seniority levels, joint work, current and past plans, investments on
both sides, assessment histories with supplier-status drops and termination notices, and the
global/national matrix with its account teams.

Rows are written in dependency order with `bulk_create` inside one `transaction.atomic`; amounts
are converted into the base currency with one `RateBook` loaded after the rates are written.
Bulk writes send no signals, so the audit trail of the demo rows (created, by nobody, reason
"seed_demo") is written last, one INSERT ... SELECT per audited model, in the same transaction.
"""

from __future__ import annotations

import math
import random
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone
from tqdm import tqdm

from accounts.currency import RateBook
from accounts.history import history_insert_select
from accounts.models import (
    Account,
    AccountManager,
    AccountTeamMember,
    Contact,
    Customer,
    ExchangeRate,
    Level,
    ProductLine,
    Transaction,
)
from relationships.models import (
    AccountPlan,
    Assessment,
    CustomerNeed,
    Interaction,
    Opportunity,
    PlanAction,
    PlanObjective,
    RelationshipInvestment,
    ServiceCase,
)

T = TypeVar("T")

DEFAULT_ACCOUNTS = 200
DEFAULT_MONTHS = 24
DEFAULT_SEED = 42
DEFAULT_PASSWORD = "kam-demo-2026"  # noqa: S105 - printed for the demo users, by design
DEMO_SOURCE_SYSTEM = "demo"
DEMO_USERNAMES = ("admin", "lead", "gam", "nam1", "nam2")
MIN_ACCOUNTS_WITH_DEMO_USERS = 10
BATCH_SIZE = 2000
# Rows of an account trading through the whole period: prospects, dormant and lost accounts and
# the central orders of global accounts have fewer, so the portfolio averages about 50.
FULL_ROWS_PER_24_MONTHS = 62
EMAIL_DOMAIN = "kam-demo.example"
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")

# --- Reference data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    name: str
    currency: str
    weight: int
    region: str
    phone: str
    legal_forms: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


COUNTRIES: dict[str, _Country] = {
    "DE": _Country(
        "Germany", "EUR", 20, "EMEA", "+49", ("GmbH", "AG", "GmbH & Co. KG"),
        _names("Anna, Lukas, Julia, Felix, Katrin, Jonas, Sabine, Matthias, Lena, Tobias, Petra"),
        _names("Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Hoffmann, Koch"),
    ),
    "FR": _Country(
        "France", "EUR", 13, "EMEA", "+33", ("SA", "SAS"),
        _names("Camille, Julien, Claire, Nicolas, Sophie, Mathieu, Élodie, Antoine, Isabelle"),
        _names("Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, Moreau"),
    ),
    "GB": _Country(
        "United Kingdom", "GBP", 11, "EMEA", "+44", ("Ltd", "plc"),
        _names("Olivia, James, Emily, Oliver, Charlotte, Harry, Sophie, George, Amelia, William"),
        _names("Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Robinson, Wright"),
    ),
    "IT": _Country(
        "Italy", "EUR", 9, "EMEA", "+39", ("S.p.A.", "S.r.l."),
        _names("Giulia, Marco, Francesca, Alessandro, Chiara, Luca, Sara, Matteo, Elena, Andrea"),
        _names("Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco"),
    ),
    "ES": _Country(
        "Spain", "EUR", 7, "EMEA", "+34", ("S.A.", "S.L."),
        _names("Lucía, Javier, María, Carlos, Laura, Pablo, Carmen, Alejandro, Marta, Diego"),
        _names("García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Pérez, Ruiz"),
    ),
    "NL": _Country(
        "Netherlands", "EUR", 6, "EMEA", "+31", ("B.V.", "N.V."),
        _names("Sanne, Daan, Femke, Bram, Eva, Joost, Lotte, Ruben"),
        _names("de Jong, Jansen, de Vries, van Dijk, Bakker, Visser, Smit, Meijer"),
    ),
    "US": _Country(
        "United States", "USD", 11, "Americas", "+1", ("Inc.", "LLC", "Corp."),
        _names("Emma, Michael, Ashley, Christopher, Jessica, Matthew, Sarah, David, Megan"),
        _names("Miller, Davis, Garcia, Anderson, Clark, Lewis, Walker, Hall, Young, King"),
    ),
    "PL": _Country(
        "Poland", "PLN", 6, "EMEA", "+48", ("Sp. z o.o.", "S.A."),
        _names("Anna, Piotr, Katarzyna, Tomasz, Agnieszka, Paweł, Magdalena, Krzysztof, Joanna"),
        _names("Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, Zieliński"),
    ),
    "SE": _Country(
        "Sweden", "SEK", 5, "EMEA", "+46", ("AB",),
        _names("Elin, Erik, Maja, Lars, Sara, Johan, Ingrid, Anders, Karin, Oskar"),
        _names("Andersson, Johansson, Karlsson, Nilsson, Eriksson, Larsson, Olsson, Persson"),
    ),
    "JP": _Country(
        "Japan", "JPY", 4, "APAC", "+81", ("K.K.", "Co., Ltd."),
        _names("Yuki, Haruto, Aoi, Takumi, Sakura, Kenji, Yui, Hiroshi, Mei, Daiki"),
        _names("Sato, Suzuki, Takahashi, Tanaka, Watanabe, Ito, Yamamoto, Nakamura, Kato"),
    ),
    "AT": _Country(
        "Austria", "EUR", 4, "EMEA", "+43", ("GmbH", "AG"),
        _names("Johanna, Florian, Theresa, Markus, Elisabeth, Georg"),
        _names("Gruber, Huber, Bauer, Wagner, Pichler, Steiner"),
    ),
    "BE": _Country(
        "Belgium", "EUR", 4, "EMEA", "+32", ("NV", "SA"),
        _names("Lotte, Pieter, Marie, Thomas, An, Wouter"),
        _names("Peeters, Janssens, Maes, Jacobs, Mertens, Willems"),
    ),
}  # fmt: skip
COUNTRY_CODES = tuple(COUNTRIES)
COUNTRY_WEIGHTS = tuple(c.weight for c in COUNTRIES.values())

# Each cluster of countries has one national sales lead (the first country with accounts).
SALES_CLUSTERS = (("DE", "FR", "AT", "BE", "NL"), ("IT", "ES"), ("GB", "SE", "PL"), ("US", "JP"))

# What one unit of each currency was worth in EUR at the start, and its monthly volatility.
EUR_VALUE = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "JPY": 0.0062, "PLN": 0.232, "SEK": 0.087}
MONTHLY_VOLATILITY = {
    "EUR": 0.0,
    "USD": 0.015,
    "GBP": 0.012,
    "JPY": 0.02,
    "PLN": 0.01,
    "SEK": 0.012,
}
WHOLE_UNIT_CURRENCIES = ("JPY",)

INDUSTRIES = {
    "Automotive": ("Automotive", "Components", "Drive Systems"),
    "Chemicals": ("Chemicals", "Polymers", "Coatings"),
    "Machinery": ("Machine Works", "Engineering", "Automation"),
    "Food & Beverage": ("Foods", "Beverages", "Dairy"),
    "Pharmaceuticals": ("Pharma", "Life Sciences", "Biotech"),
    "Electronics": ("Electronics", "Semiconductors", "Devices"),
    "Construction": ("Construction", "Building Systems", "Infrastructure"),
    "Energy": ("Energy", "Power", "Renewables"),
    "Logistics": ("Logistics", "Freight", "Distribution"),
    "Packaging": ("Packaging", "Containers", "Labels"),
    "Aerospace": ("Aerospace", "Aviation", "Avionics"),
    "Medical Devices": ("Medical", "Medtech", "Diagnostics"),
}
INDUSTRY_NAMES = tuple(INDUSTRIES)
NAME_STEMS = (
    "Nord", "Alpen", "Rhein", "Atlas", "Vega", "Orion", "Helio", "Aqua", "Terra", "Volta",
    "Kine", "Astra", "Borea", "Cobal", "Delta", "Ferro", "Granit", "Hydra", "Iris", "Juno",
    "Krios", "Lumen", "Magna", "Nova", "Omni", "Polar", "Quanta", "Rota", "Sigma", "Titan",
    "Ultra", "Vertex", "Wolfra", "Zenit", "Arco", "Brio", "Cirra", "Duro", "Elva", "Fjord",
)  # fmt: skip
NAME_ENDINGS = (
    "tech", "werk", "flex", "line", "chem", "tron", "pack", "form", "motion", "med",
    "plast", "steel", "print", "sys", "mat", "wave", "craft", "gen", "dyn", "core",
)  # fmt: skip


@dataclass(frozen=True)
class _Line:
    code: str
    name: str
    decimals: int  # of the quantity: pieces are whole, fluids and cable are measured
    price: float  # list price per unit, EUR
    margin: float
    model: str


PRODUCT_LINES = (
    _Line("ACT", "Actuators", 0, 180.0, 0.34, "A"),
    _Line("SEN", "Sensors", 0, 45.0, 0.42, "S"),
    _Line("CTL", "Control units", 0, 950.0, 0.38, "CU"),
    _Line("DRV", "Drives & motors", 0, 620.0, 0.27, "D"),
    _Line("HYD", "Hydraulics", 0, 310.0, 0.30, "H"),
    _Line("FLU", "Fluids & lubricants", 1, 8.5, 0.22, "F"),
    _Line("CAB", "Cables & harnesses", 2, 3.2, 0.25, "C"),
    _Line("SRV", "Field service", 1, 95.0, 0.45, "SV"),
)
# What we buy from customers that are also suppliers: (description, quantity decimals, EUR price).
PURCHASE_ITEMS = (
    ("Recycled metal scrap (kg)", 1, 1.8),
    ("Contract machining (hours)", 1, 75.0),
    ("Sub-assemblies", 0, 120.0),
    ("Returnable packaging", 0, 2.5),
)

FUNCTION_WEIGHTS = {
    Contact.Function.PROCUREMENT: 25,
    Contact.Function.OPERATIONS: 15,
    Contact.Function.RND: 10,
    Contact.Function.QUALITY: 10,
    Contact.Function.FINANCE: 7,
    Contact.Function.LOGISTICS: 10,
    Contact.Function.MARKETING: 5,
    Contact.Function.IT: 5,
    Contact.Function.EXECUTIVE: 7,
    Contact.Function.OTHER: 6,
}
SENIORITY_WEIGHTS = {
    Contact.Seniority.OPERATIONAL: 35,
    Contact.Seniority.MANAGEMENT: 35,
    Contact.Seniority.SENIOR: 20,
    Contact.Seniority.EXECUTIVE: 10,
}
# Titles by function, from operational to executive seniority.
TITLES = {
    "procurement": ("Buyer", "Purchasing Manager", "Head of Procurement", "CPO"),
    "operations": ("Production Planner", "Plant Manager", "Director of Operations", "COO"),
    "rnd": ("Development Engineer", "R&D Team Lead", "Head of R&D", "CTO"),
    "quality": ("Quality Engineer", "Quality Manager", "Head of Quality", "VP Quality"),
    "finance": ("Accountant", "Controller", "Head of Finance", "CFO"),
    "logistics": ("Logistics Coordinator", "Logistics Manager", "Head of Supply Chain",
                  "VP Supply Chain"),
    "marketing": ("Marketing Specialist", "Product Manager", "Head of Marketing", "CMO"),
    "it": ("IT Specialist", "IT Manager", "Head of IT", "CIO"),
    "executive": ("Executive Assistant", "Managing Director", "Executive Vice President", "CEO"),
    "other": ("Engineer", "Project Manager", "Senior Project Director", "Board Member"),
}  # fmt: skip
SENIORITY_ORDER = tuple(Contact.Seniority.values)

INTERACTION_TOPICS = (
    "reviewed delivery performance of the last quarter",
    "discussed the volume forecast for next year",
    "presented the new product roadmap",
    "negotiated the framework agreement renewal",
    "walked through open quality claims",
    "agreed next steps on the cost-down programme",
    "visited the production line and the incoming inspection",
    "aligned on the EDI connection project",
    "discussed price adjustments for raw material costs",
    "introduced our application engineers",
    "quarterly business review with the management team",
    "followed up on the trial order",
    "clarified payment terms and rebates",
    "workshop on the joint development project",
    "captured requirements for the new plant",
)
INTERACTION_VERBS = {
    "meeting": "Meeting with",
    "call": "Call with",
    "email": "Email exchange with",
    "visit": "Site visit with",
    "event": "Trade fair talk with",
}
NEEDS = (
    "Shorter lead times for standard parts",
    "Consignment stock at the main plant",
    "Second source for critical components",
    "Lower total cost of ownership",
    "Support for the new production line",
    "Electronic ordering through EDI",
    "Technical training for maintenance staff",
    "Carbon footprint data per product",
    "Faster handling of quality claims",
    "Local technical support",
    "Customised packaging",
    "Price stability over two years",
)
OPPORTUNITY_TITLES = (
    "{line} framework agreement {year}",
    "{line} retrofit programme",
    "New plant equipment: {line}",
    "Cost-down initiative on {line}",
    "{line} co-development project",
    "Service contract extension",
    "Spare parts consignment stock",
    "Line upgrade with {line}",
)
STRATEGIES = (
    "Grow share of wallet by expanding into further product lines.",
    "Defend our position against low-cost competitors through service.",
    "Move from spot orders to a multi-year agreement.",
    "Build relationships beyond procurement: engineering and operations.",
    "Recover the relationship after last year's quality issues.",
    "Become preferred supplier for the new plant.",
)
OBJECTIVES = (
    ("Grow share of wallet", "share of wallet", "40%"),
    ("Win the second plant", "plants supplied", "2"),
    ("Introduce {line}", "revenue {line}", "EUR 250k"),
    ("Establish quarterly business reviews", "reviews held", "4"),
    ("Joint cost-down programme", "savings delivered", "EUR 100k"),
    ("Become preferred supplier", "supplier status", "preferred"),
    ("Set up an EDI link", "orders by EDI", "80%"),
    ("Reduce open complaints", "open service cases", "below 3"),
    ("Co-develop the next product generation", "prototypes approved", "2"),
)
ACTIONS = (
    "Prepare the business review deck",
    "Site visit with the application engineer",
    "Send the revised offer",
    "Introduce our R&D lead to their engineering team",
    "Run a supplier day at the customer",
    "Agree the forecast process with logistics",
    "Escalate the open claim to quality management",
    "Draft the multi-year agreement",
    "Workshop on savings opportunities",
    "Invite the executive team to our plant",
)
CASE_SUBJECTS = (
    "Late delivery of the last order",
    "Damaged goods on arrival",
    "Wrong parts delivered",
    "Invoice does not match the order",
    "Sensor failures in the field",
    "Documentation missing for customs",
    "Leaking hydraulic unit",
    "Firmware issue on control units",
    "Request for a certificate of conformity",
    "Short shipment",
)
ASSESSMENT_COMMENTS = (
    "Annual review with the account team.",
    "Review after the business review meeting.",
    "Reassessed after the change in their purchasing organisation.",
    "Review before the contract renewal.",
    "",
)
INVESTMENT_DESCRIPTIONS = {
    "dedicated_staff": "Resident engineer at the main plant",
    "tooling": "Dedicated moulds and test rigs",
    "it_integration": "EDI / API link between the ordering systems",
    "co_location": "Warehouse next to their assembly plant",
    "process": "Adapted production process for their specification",
    "training": "Training programme for their maintenance staff",
    "other": "Joint quality programme",
}

# --- Results and errors ---------------------------------------------------------------------------


class DemoSeedError(Exception):
    """The demo portfolio cannot be built with these options, or in this database."""


@dataclass
class DemoSummary:
    seed: int
    reference_date: date
    months: int
    counts: dict[str, int]
    usernames: list[str]
    password: str | None


def demo_portfolio_create(
    *,
    reference_date: date,
    accounts: int = DEFAULT_ACCOUNTS,
    months: int = DEFAULT_MONTHS,
    seed: int = DEFAULT_SEED,
    demo_users: bool = False,
    password: str = DEFAULT_PASSWORD,
    progress: bool = False,
) -> DemoSummary:
    """Fill an empty database with a demo portfolio; the same options always give the same data."""
    if accounts < 1:
        raise DemoSeedError("--accounts must be at least 1.")
    if months < 1:
        raise DemoSeedError("--months must be at least 1.")
    if demo_users and accounts < MIN_ACCOUNTS_WITH_DEMO_USERS:
        raise DemoSeedError(
            f"--demo-users needs at least {MIN_ACCOUNTS_WITH_DEMO_USERS} accounts "
            "(a global account with national accounts, and some of their own)."
        )
    if demo_users and not password:
        raise DemoSeedError("--password must not be empty.")
    base = settings.KAM_BASE_CURRENCY
    if base not in EUR_VALUE:
        raise DemoSeedError(
            f"The demo data has no exchange rates for the base currency {base}; "
            f"use one of {', '.join(EUR_VALUE)}."
        )
    builder = _DemoBuilder(
        n_accounts=accounts,
        months=months,
        seed=seed,
        reference_date=reference_date,
        demo_users=demo_users,
        password=password,
        base_currency=base,
        progress=progress,
    )
    with transaction.atomic():
        builder.check_empty()
        builder.build()
    return DemoSummary(
        seed=seed,
        reference_date=reference_date,
        months=months,
        counts=dict(builder.counts),
        usernames=list(DEMO_USERNAMES) if demo_users else [],
        password=password if demo_users else None,
    )


# --- Plain helpers --------------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = 31
    while True:
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            last -= 1


def _dec(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def _off_half_cent(quantity: Decimal, price: Decimal) -> Decimal:
    """Move the quantity by one unit of its last decimal while quantity x price ends in half a cent.

    Such an amount is exactly `AMOUNT_TOLERANCE` away from the product, and SQLite evaluates the
    amount check constraint in floating point, where it can land just outside and be rejected.
    """
    step = Decimal(1).scaleb(quantity.as_tuple().exponent)
    while (quantity * price) % CENT == HALF_CENT:
        quantity = quantity - step if quantity > step else quantity + step
    return quantity


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _rating(value: float) -> int:
    return int(_clamp(round(value), 1, 5))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch in ".-")


def _pick(rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _sample_weighted(
    rng: random.Random, items: Sequence[T], weights: Sequence[float], k: int
) -> list[T]:
    """k distinct items, drawn with probability proportional to their weights."""
    pool, pool_weights, chosen = list(items), list(weights), []
    for _ in range(min(k, len(pool))):
        index = rng.choices(range(len(pool)), weights=pool_weights)[0]
        chosen.append(pool.pop(index))
        pool_weights.pop(index)
    return chosen


class _Trend:
    """Dates spread over `span` days with a density growing (or shrinking) by `yearly` a year."""

    def __init__(self, yearly: float, span: int) -> None:
        self.span = span
        self.rate = math.log1p(yearly) / 365
        self.growth = math.exp(self.rate * span)
        self.flat = abs(self.rate * span) < 1e-6

    def offset(self, u: float) -> int:
        """The day offset at quantile u (inverse of the exponential CDF)."""
        days = u * self.span if self.flat else math.log1p(u * (self.growth - 1)) / self.rate
        return min(self.span, max(0, int(days)))

    def end_density(self) -> float:
        """The share of all dates per day at the end of the span."""
        if self.flat:
            return 1 / self.span
        return self.rate * self.growth / (self.growth - 1)


# --- The plan of the portfolio --------------------------------------------------------------------


@dataclass(eq=False)
class _CustomerSpec:
    customer: Customer
    country: str
    size: float = 0.0
    is_key: bool = False
    contacts: list[Contact] = field(default_factory=list)


@dataclass(eq=False)
class _AccountSpec:
    index: int
    level: str
    country: str
    customer: _CustomerSpec
    reach: list[_CustomerSpec]  # customers whose contacts this account meets
    parent: _AccountSpec | None = None
    children: list[_AccountSpec] = field(default_factory=list)
    demo_owner: str = ""
    stand_alone: bool = False
    status: str = Account.Status.ACTIVE
    size: float = 0.0  # yearly revenue in EUR while trading
    size_z: float = 0.0
    trend: float = 0.0  # yearly growth rate of the business
    is_key: bool = False
    currency: str = "EUR"
    opened_on: date = date.min
    window: tuple[date, date] | None = None  # first and last possible transaction date
    rows: int = 0
    depth: float = 0.0  # how developed the relationship is, 0..1
    complexity: float = 0.0  # how complex what we supply is, 0..1
    owner: AccountManager | None = None
    team: list[AccountManager] = field(default_factory=list)
    account: Account | None = None

    @property
    def declining(self) -> bool:
        return self.trend <= -0.35


class _DemoBuilder:
    """Plans the portfolio in memory (specs), then writes it table by table, parents first."""

    def __init__(
        self,
        *,
        n_accounts: int,
        months: int,
        seed: int,
        reference_date: date,
        demo_users: bool,
        password: str,
        base_currency: str,
        progress: bool,
    ) -> None:
        self.n_accounts = n_accounts
        self.months = months
        self.seed = seed
        self.ref = reference_date
        self.demo_users = demo_users
        self.password = password
        self.base = base_currency
        self.progress = progress
        self.tz = timezone.get_default_timezone()
        self.period_start = _add_months(reference_date, -months)
        self.counts: Counter[str] = Counter()
        self.specs: list[_AccountSpec] = []
        self.customers: list[_CustomerSpec] = []
        self.lines: list[ProductLine] = []
        self.users: dict[str, Any] = {}
        self.head: AccountManager | None = None
        self.cluster_leads: dict[str, AccountManager] = {}  # country -> its sales lead
        self.national_managers: dict[str, list[AccountManager]] = {}
        self.global_managers: list[AccountManager] = []
        self.demo: dict[str, AccountManager] = {}
        self._names: set[str] = set()
        self._eur_value: dict[str, list[float]] = {}
        self._rate_start = _add_months(self.period_start, -1).replace(day=1)
        self._counters: Counter[str] = Counter()
        self.ratebook: RateBook | None = None

    # -- infrastructure --------------------------------------------------------------------------

    def _rng(self, phase: str) -> random.Random:
        return random.Random(f"kam-demo:{self.seed}:{phase}")  # noqa: S311 - demo data, not secrets

    def _next(self, sequence: str) -> int:
        self._counters[sequence] += 1
        return self._counters[sequence]

    @contextmanager
    def _bar(self, desc: str, total: int, unit: str = "rows") -> Iterator[tqdm]:
        # disable=None: shown on a terminal, silent when stderr is a pipe or a file.
        with tqdm(
            total=total,
            desc=f"{desc:<20}",
            unit=unit,
            file=sys.stderr,
            disable=None if self.progress else True,
        ) as bar:
            yield bar

    def _insert(self, model: type[models.Model], label: str, *groups: list, **kwargs: Any) -> None:
        """Bulk-create in batches, group after group: a group may point at rows of the ones before
        it (bulk_create fills in the pks, and the foreign keys follow the cached objects)."""
        total = sum(len(group) for group in groups)
        with self._bar(label, total) as bar:
            for objs in groups:
                for start in range(0, len(objs), BATCH_SIZE):
                    chunk = objs[start : start + BATCH_SIZE]
                    model._default_manager.bulk_create(chunk, batch_size=BATCH_SIZE, **kwargs)
                    bar.update(len(chunk))
        self.counts[label] += total

    def _aware(self, day: date, rng: random.Random) -> datetime:
        moment = time(rng.randint(8, 17), rng.choice((0, 15, 30, 45)))
        return datetime.combine(day, moment, tzinfo=self.tz)

    def _day_between(self, rng: random.Random, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=rng.randint(0, (last - first).days))

    def check_empty(self) -> None:
        existing = Account.objects.count()
        if existing:
            raise DemoSeedError(
                f"The database already has {existing} accounts; seed_demo only fills an empty "
                "database. Use a fresh database (or `manage.py flush`) and run it again."
            )

    def _check_usernames_free(self) -> None:
        taken = sorted(
            get_user_model()
            .objects.filter(username__in=list(self.users))
            .values_list("username", flat=True)
        )
        if taken:
            raise DemoSeedError(
                f"Users named {', '.join(taken[:10])} already exist; seed_demo creates its own "
                "users, so run it on a fresh database."
            )

    # -- the whole build -------------------------------------------------------------------------

    def build(self) -> None:
        self._plan_portfolio()
        self._plan_profiles()
        self._write_product_lines()
        self._write_exchange_rates()
        self._write_managers()
        self._assign_owners()
        self._write_customers()
        self._write_contacts()
        self._write_accounts()
        self._write_team_members()
        self._write_transactions()
        self._write_interactions()
        self._write_needs()
        self._write_opportunities()
        self._write_plans()
        self._write_service_cases()
        self._write_assessments()
        self._write_investments()
        self._write_history()

    def _write_history(self) -> None:
        audited = (Customer, Account, AccountTeamMember, Transaction, Opportunity, AccountPlan,
                   PlanObjective, PlanAction, Assessment, RelationshipInvestment)  # fmt: skip
        with self._bar("history", len(audited), unit="tables") as bar:
            for model in audited:
                table = connection.ops.quote_name(model._meta.db_table)
                history_insert_select(model, source=table, reason="seed_demo")
                bar.update(1)

    # -- planning: customers, groups, accounts ---------------------------------------------------

    def _company_name(self, rng: random.Random, industry: str) -> str:
        for _ in range(20):
            stem = rng.choice(NAME_STEMS) + rng.choice(NAME_ENDINGS)
            name = f"{stem} {rng.choice(INDUSTRIES[industry])}"
            if name not in self._names:
                break
        else:
            name = f"{name} {len(self._names)}"
        self._names.add(name)
        return name

    def _new_customer(
        self,
        rng: random.Random,
        country: str,
        industry: str,
        name: str,
        parent: _CustomerSpec | None = None,
    ) -> _CustomerSpec:
        info = COUNTRIES[country]
        slug = "-".join(_ascii(part) for part in name.split()[:2])
        customer = Customer(
            name=name,
            legal_name=f"{name} {rng.choice(info.legal_forms)}",
            industry=industry,
            country=country,
            employees=None,
            website=f"https://www.{slug}.example",
            parent=parent.customer if parent else None,
        )
        spec = _CustomerSpec(customer=customer, country=country)
        self.customers.append(spec)
        return spec

    def _other_countries(self, rng: random.Random, home: str, k: int) -> list[str]:
        pool = [c for c in COUNTRY_CODES if c != home]
        weights = [COUNTRIES[c].weight for c in pool]
        return _sample_weighted(rng, pool, weights, k)

    def _national(
        self,
        customer: _CustomerSpec,
        parent: _AccountSpec | None = None,
        *,
        stand_alone: bool = False,
    ) -> _AccountSpec:
        spec = _AccountSpec(
            index=len(self.specs),
            level=Level.NATIONAL,
            country=customer.country,
            customer=customer,
            reach=[customer],
            parent=parent,
            stand_alone=stand_alone,
        )
        self.specs.append(spec)
        if parent is not None:
            parent.children.append(spec)
        return spec

    def _plan_portfolio(self) -> None:
        """Which customers, groups and accounts exist: the structure, before any figures."""
        rng = self._rng("structure")
        n = self.n_accounts
        group_budget = round(n * 0.25) if n >= 12 else 0
        if self.demo_users:
            group_budget = max(group_budget, 4)
        first = True
        while group_budget >= 3:
            industry = rng.choice(INDUSTRY_NAMES)
            if first and self.demo_users:
                # gam's group: nam1 owns its German account, nam2 its French one.
                home, with_home = "DE", True
                k = min(rng.randint(1, 3), group_budget - 2)
                others = list(dict.fromkeys(["FR", *self._other_countries(rng, "DE", 3)]))[:k]
            else:
                home = rng.choices(COUNTRY_CODES, weights=COUNTRY_WEIGHTS)[0]
                with_home = rng.random() < 0.8
                k = min(rng.randint(2, 6), group_budget - 1)
                others = self._other_countries(rng, home, k - int(with_home))
            root = self._new_customer(rng, home, industry, self._company_name(rng, industry))
            global_spec = _AccountSpec(
                index=len(self.specs),
                level=Level.GLOBAL,
                country="",
                customer=root,
                reach=[root],
            )
            if first and self.demo_users:
                global_spec.demo_owner = "gam"
            self.specs.append(global_spec)
            if with_home:
                home_spec = self._national(root, global_spec)
                if first and self.demo_users:
                    home_spec.demo_owner = "nam1"
            for country in others:
                name = f"{root.customer.name} {COUNTRIES[country].name}"
                sub = self._new_customer(rng, country, industry, name, parent=root)
                global_spec.reach.append(sub)
                child = self._national(sub, global_spec)
                if first and self.demo_users and country == "FR":
                    child.demo_owner = "nam2"
            group_budget -= 1 + len(global_spec.children)
            first = False

        # Stand-alone national accounts; a few belong to small regional groups without a global
        # account (their root is a customer too, with its own national account).
        while len(self.specs) < n:
            industry = rng.choice(INDUSTRY_NAMES)
            country = rng.choices(COUNTRY_CODES, weights=COUNTRY_WEIGHTS)[0]
            name = self._company_name(rng, industry)
            root = self._new_customer(rng, country, industry, name)
            self._national(root, stand_alone=True)
            remaining = n - len(self.specs)
            if remaining >= 1 and rng.random() < 0.06:
                for other in self._other_countries(rng, country, min(remaining, rng.randint(1, 2))):
                    sub_name = f"{name} {COUNTRIES[other].name}"
                    sub = self._new_customer(rng, other, industry, sub_name, parent=root)
                    self._national(sub, stand_alone=True)

    def _plan_profiles(self) -> None:
        """Size, trend, status and depth of every account: the figures everything else follows."""
        rng = self._rng("profiles")
        period_days = (self.ref - self.period_start).days
        mean_rows = FULL_ROWS_PER_24_MONTHS * self.months / 24
        for spec in self.specs:
            under_global = spec.parent is not None
            spec.size_z = rng.gauss(0, 1)
            mu = math.log(250_000 if spec.level == Level.GLOBAL or under_global else 110_000)
            spec.size = _clamp(math.exp(mu + 1.2 * spec.size_z), 2_000, 25_000_000)
            if spec.demo_owner:
                spec.status = Account.Status.ACTIVE
            elif spec.level == Level.GLOBAL:
                spec.status = _pick(rng, {"active": 92, "dormant": 4, "prospect": 4})
            elif under_global:
                spec.status = _pick(rng, {"active": 90, "dormant": 5, "prospect": 3, "lost": 2})
            else:
                spec.status = _pick(rng, {"active": 81, "prospect": 7, "dormant": 7, "lost": 5})
            roll = rng.random()
            if roll < 0.08:
                spec.trend = rng.uniform(-0.60, -0.40)
            elif roll < 0.30:
                spec.trend = rng.uniform(-0.15, 0.0)
            elif roll < 0.84:
                spec.trend = rng.uniform(0.0, 0.15)
            else:
                spec.trend = rng.uniform(0.15, 0.45)
            if spec.level == Level.GLOBAL:
                spec.is_key = bool(spec.demo_owner) or rng.random() < 0.85
                home = COUNTRIES[spec.customer.country].currency
                spec.currency = home if home in ("EUR", "USD", "GBP", "JPY") else "EUR"
            else:
                spec.is_key = (spec.size > 600_000 and rng.random() < 0.8) or rng.random() < 0.05
                spec.currency = COUNTRIES[spec.country].currency
            spec.is_key = spec.is_key and spec.status != Account.Status.PROSPECT
            if rng.random() < 0.12:  # a new account, opened within the last two years
                tenure_days = rng.randint(30, 730)
            else:
                tenure_days = rng.randint(731, 20 * 365)
            spec.opened_on = self.ref - timedelta(days=tenure_days)
            spec.depth = _clamp(
                0.18
                + 0.30 * spec.is_key
                + 0.10 * spec.size_z
                + 0.10 * (spec.level == Level.GLOBAL)
                + 0.30 * rng.random()
                - 0.15 * spec.declining
                - 0.25 * (spec.status == Account.Status.PROSPECT),
                0.0,
                1.0,
            )
            spec.complexity = rng.random()
            self._plan_window(spec, rng, period_days, mean_rows)
            for customer in spec.reach:
                customer.size = max(customer.size, spec.size)
                customer.is_key = customer.is_key or spec.is_key
        # At least one account without any history, whatever the draw.
        if not any(s.window is None and s.level == Level.NATIONAL for s in self.specs):
            spare = [s for s in self.specs if s.stand_alone and not s.demo_owner]
            if spare:
                spare[-1].status = Account.Status.PROSPECT
                spare[-1].is_key = False
                spare[-1].window, spare[-1].rows = None, 0
                spare[-1].opened_on = self.ref - timedelta(days=45)
        # And at least one account trading through the whole period in steep decline.
        traders = [
            s
            for s in self.specs
            if s.stand_alone and not s.demo_owner and s.status == Account.Status.ACTIVE and s.window
        ]
        if traders and not any(s.declining for s in traders):
            full = [s for s in traders if s.window[0] <= self.period_start] or traders
            full[0].trend = -0.5
        for customer in self.customers:
            customer.customer.employees = max(5, int(customer.size / rng.uniform(150, 1_500)))

    def _plan_window(
        self, spec: _AccountSpec, rng: random.Random, period_days: int, mean_rows: float
    ) -> None:
        """When the account traded in the period, and roughly how many rows it has."""
        if spec.status == Account.Status.PROSPECT:
            spec.opened_on = self.ref - timedelta(days=rng.randint(14, 240))
            if rng.random() < 0.5:
                spec.window, spec.rows = None, 0
            else:
                start = max(self.period_start, self.ref - timedelta(days=rng.randint(30, 120)))
                spec.window, spec.rows = (start, self.ref), rng.randint(1, 4)
                spec.opened_on = min(spec.opened_on, start)
            return
        end = self.ref
        if spec.status == Account.Status.DORMANT:
            end = self.ref - timedelta(days=rng.randint(200, 420))
        elif spec.status == Account.Status.LOST:
            end = self.ref - timedelta(days=rng.randint(60, 420))
        if end - timedelta(days=60) < spec.opened_on:
            spec.opened_on = end - timedelta(days=rng.randint(180, 1500))
        start = max(self.period_start, spec.opened_on)
        if end <= start:
            spec.window, spec.rows = None, 0
            return
        spec.window = (start, end)
        noise = math.exp(0.4 * spec.size_z + 0.5 * rng.gauss(0, 1) - 0.205)
        rows = mean_rows * noise * (end - start).days / period_days
        if spec.level == Level.GLOBAL:
            # Central orders only: most of a global account's business runs in its nationals.
            rows = 0 if rng.random() < 0.3 else rows * 0.3
            if rows == 0:
                spec.window = None
        spec.rows = int(_clamp(round(rows), 0, 25 * mean_rows))
        if spec.rows == 0:
            spec.window = None

    # -- reference data --------------------------------------------------------------------------

    def _write_product_lines(self) -> None:
        lines = [ProductLine(code=line.code, name=line.name) for line in PRODUCT_LINES]
        ProductLine.objects.bulk_create(lines, ignore_conflicts=True)
        by_code = ProductLine.objects.in_bulk(
            [line.code for line in PRODUCT_LINES], field_name="code"
        )
        self.lines = [by_code[line.code] for line in PRODUCT_LINES]
        self.counts["product lines"] = len(self.lines)

    def _write_exchange_rates(self) -> None:
        """Monthly rates from the month before the period on, as a random walk per currency."""
        rng = self._rng("rates")
        start = self._rate_start
        n_months = (self.ref.year - start.year) * 12 + self.ref.month - start.month + 1
        for currency, start_value in EUR_VALUE.items():
            value, series = start_value, []
            for _ in range(n_months):
                series.append(value)
                value *= math.exp(rng.gauss(0, MONTHLY_VOLATILITY[currency]))
            self._eur_value[currency] = series
        base_series = self._eur_value[self.base]
        rows = []
        for currency, series in self._eur_value.items():
            if currency == self.base:
                continue
            for month, value in enumerate(series):
                rows.append(
                    ExchangeRate(
                        currency=currency,
                        valid_from=_add_months(self._rate_start, month),
                        rate=_dec(value / base_series[month], 8),
                    )
                )
        # Rates already present for a day are kept: the rate book below reads what is stored.
        self._insert(ExchangeRate, "exchange rates", rows, ignore_conflicts=True)
        self.ratebook = RateBook.load()

    def _eur_per_unit(self, currency: str, day: date) -> float:
        month = (day.year - self._rate_start.year) * 12 + day.month - self._rate_start.month
        series = self._eur_value[currency]
        return series[min(max(month, 0), len(series) - 1)]

    # -- people ----------------------------------------------------------------------------------

    def _user(self, username: str, first: str, last: str, password: str, **extra: Any) -> Any:
        user = get_user_model()(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@{EMAIL_DOMAIN}",
            password=password,
            date_joined=datetime.combine(self.ref - timedelta(days=400), time(9), tzinfo=self.tz),
            **extra,
        )
        self.users[username] = user
        return user

    def _person(self, rng: random.Random, country: str) -> tuple[str, str]:
        info = COUNTRIES[country]
        return rng.choice(info.first_names), rng.choice(info.last_names)

    def _username(self, first: str, last: str) -> str:
        base = f"{_ascii(first)}.{_ascii(last.replace(' ', ''))}"
        username, n = base, 1
        while username in self.users:
            n += 1
            username = f"{base}{n}"
        return username

    def _write_managers(self) -> None:
        """Users and manager profiles: a head of key accounts over global managers and the
        national sales leads, who lead the national managers of their countries."""
        rng = self._rng("managers")
        unusable = make_password(None)
        # All demo users share one password, so one (slow, salted) hash serves them all.
        demo_hash = make_password(self.password) if self.demo_users else unusable
        national_counts = Counter(s.country for s in self.specs if s.level == Level.NATIONAL)
        n_globals = sum(1 for s in self.specs if s.level == Level.GLOBAL)
        tiers: list[list[AccountManager]] = [[], [], []]

        def manager(user: Any, tier: int, **fields: Any) -> AccountManager:
            profile = AccountManager(user=user, **fields)
            tiers[tier].append(profile)
            return profile

        if self.demo_users:
            self._user("admin", "Demo", "Admin", demo_hash, is_staff=True, is_superuser=True)
        first, last = self._person(rng, "GB")
        self.head = manager(
            self._user(self._username(first, last), first, last, unusable),
            0,
            level=Level.GLOBAL,
            region="Worldwide",
            role=AccountManager.Role.SALES_LEAD,
        )

        for index in range(max(1, math.ceil(n_globals / 5)) if n_globals else 0):
            if index == 0 and self.demo_users:
                user = self._user("gam", "Grace", "Morgan", demo_hash)
                region = "EMEA"
            else:
                home = rng.choices(COUNTRY_CODES, weights=COUNTRY_WEIGHTS)[0]
                first, last = self._person(rng, home)
                user = self._user(self._username(first, last), first, last, unusable)
                region = COUNTRIES[home].region
            gm = manager(user, 1, level=Level.GLOBAL, region=region, reports_to=self.head)
            self.global_managers.append(gm)
            if index == 0 and self.demo_users:
                self.demo["gam"] = gm

        for cluster_index, cluster in enumerate(SALES_CLUSTERS):
            countries = [c for c in cluster if national_counts[c]]
            if not countries:
                continue
            if cluster_index == 0 and self.demo_users:
                user = self._user("lead", "Lena", "Lehmann", demo_hash)
                lead_country = "DE"
            else:
                lead_country = countries[0]
                first, last = self._person(rng, lead_country)
                user = self._user(self._username(first, last), first, last, unusable)
            lead = manager(
                user,
                1,
                level=Level.NATIONAL,
                country=lead_country,
                role=AccountManager.Role.SALES_LEAD,
                reports_to=self.head,
            )
            if cluster_index == 0 and self.demo_users:
                self.demo["lead"] = lead
            for country in countries:
                self.cluster_leads[country] = lead
                team: list[AccountManager] = []
                for index in range(max(1, math.ceil(national_counts[country] / 14))):
                    demo_name = {"DE": "nam1", "FR": "nam2"}.get(country, "")
                    if index == 0 and self.demo_users and demo_name:
                        first, last = (
                            ("Jonas", "Becker") if country == "DE" else ("Camille", "Roux")
                        )
                        user = self._user(demo_name, first, last, demo_hash)
                    else:
                        first, last = self._person(rng, country)
                        user = self._user(self._username(first, last), first, last, unusable)
                    nm = manager(user, 2, level=Level.NATIONAL, country=country, reports_to=lead)
                    team.append(nm)
                    if index == 0 and self.demo_users and demo_name:
                        self.demo[demo_name] = nm
                self.national_managers[country] = team

        self._check_usernames_free()
        self._insert(get_user_model(), "users", list(self.users.values()))
        self._insert(AccountManager, "managers", *tiers)

    def _assign_owners(self) -> None:
        rng = self._rng("owners")
        demo_ids = {id(m) for m in self.demo.values()}
        for spec in self.specs:
            if spec.demo_owner:
                spec.owner = self.demo[spec.demo_owner]
            elif spec.level == Level.GLOBAL:
                weights = [2 if id(m) in demo_ids else 1 for m in self.global_managers]
                spec.owner = rng.choices(self.global_managers, weights=weights)[0]
            else:
                team = self.national_managers[spec.country]
                weights = [3 if id(m) in demo_ids else 1 for m in team]
                spec.owner = rng.choices(team, weights=weights)[0]
        # Every demo national manager owns several stand-alone accounts of their own.
        for name in ("nam1", "nam2"):
            nam = self.demo.get(name)
            if nam is None:
                continue
            owned = [s for s in self.specs if s.owner is nam and s.stand_alone]
            spare = [
                s
                for s in self.specs
                if s.stand_alone and s.country == nam.country and s.owner is not nam
            ]
            for spec in spare[: max(0, 4 - len(owned))]:
                spec.owner = nam

    # -- customers, contacts, accounts -----------------------------------------------------------

    def _write_customers(self) -> None:
        roots = [c.customer for c in self.customers if c.customer.parent is None]
        subsidiaries = [c.customer for c in self.customers if c.customer.parent is not None]
        self._insert(Customer, "customers", roots, subsidiaries)

    def _write_contacts(self) -> None:
        rng = self._rng("contacts")
        contacts = []
        functions = dict(FUNCTION_WEIGHTS)
        for spec in self.customers:
            if spec.is_key:
                n = rng.randint(6, 14)
            elif spec.size > 200_000:
                n = rng.randint(3, 8)
            else:
                n = rng.randint(1, 5)
            slug = "-".join(_ascii(part) for part in spec.customer.name.split()[:2])
            info = COUNTRIES[spec.country]
            for index in range(n):
                function = Contact.Function.PROCUREMENT if index == 0 else _pick(rng, functions)
                seniority = _pick(rng, SENIORITY_WEIGHTS)
                if function == Contact.Function.EXECUTIVE and rng.random() < 0.7:
                    seniority = Contact.Seniority.EXECUTIVE
                first, last = self._person(rng, spec.country)
                local = f"{_ascii(first)}.{_ascii(last.replace(' ', ''))}"
                contact = Contact(
                    customer=spec.customer,
                    name=f"{first} {last}",
                    title=TITLES[function][SENIORITY_ORDER.index(seniority)],
                    email=f"{local}@{slug}.example",
                    phone=f"{info.phone} {rng.randint(100, 999)} {rng.randint(100000, 999999)}",
                    function=function,
                    seniority=seniority,
                    is_active=rng.random() < 0.92,
                )
                spec.contacts.append(contact)
                contacts.append(contact)
        self._insert(Contact, "contacts", contacts)

    def _write_accounts(self) -> None:
        rng = self._rng("accounts")
        for spec in self.specs:
            wallet = None
            if rng.random() < 0.85 or spec.is_key:
                share = rng.uniform(0.08, 0.85)
                wallet = _dec(round(spec.size / share, -3), 2)
            spec.account = Account(
                customer=spec.customer.customer,
                level=spec.level,
                country=spec.country,
                parent=spec.parent.account if spec.parent else None,
                status=spec.status,
                is_key_account=spec.is_key,
                owner=spec.owner,
                opened_on=spec.opened_on,
                currency=spec.currency,
                wallet_estimate=wallet,
            )
        globals_ = [s.account for s in self.specs if s.level == Level.GLOBAL]
        nationals = [s.account for s in self.specs if s.level == Level.NATIONAL]
        self._insert(Account, "accounts", globals_, nationals)
        self.counts["global accounts"] = len(globals_)
        self.counts["national accounts"] = len(nationals)

    def _write_team_members(self) -> None:
        """The matrix: global lead and national leads on global accounts, support and sponsors."""
        rng = self._rng("team")
        members: list[AccountTeamMember] = []
        seen: set[tuple[int, int, str]] = set()
        Role = AccountTeamMember.Role

        def add(spec: _AccountSpec, manager: AccountManager, role: str, start: date, **kw: Any):
            key = (spec.index, id(manager), role)
            if key in seen:
                return
            seen.add(key)
            members.append(
                AccountTeamMember(
                    account=spec.account, manager=manager, role=role, start_date=start, **kw
                )
            )
            if kw.get("end_date") is None and manager is not spec.owner:
                spec.team.append(manager)

        def since(spec: _AccountSpec) -> date:
            earliest = max(spec.opened_on, self.ref - timedelta(days=1500))
            return self._day_between(rng, earliest, self.ref - timedelta(days=1))

        for spec in self.specs:
            if spec.level == Level.GLOBAL:
                start = since(spec)
                others = [m for m in self.global_managers if m is not spec.owner]
                if others and rng.random() < 0.1:  # a former global lead, handed over
                    earlier = start - timedelta(days=rng.randint(200, 900))
                    add(spec, rng.choice(others), Role.GLOBAL_LEAD, earlier,
                        end_date=start - timedelta(days=1))  # fmt: skip
                add(spec, spec.owner, Role.GLOBAL_LEAD, start)
                for child in spec.children:
                    add(spec, child.owner, Role.NATIONAL_LEAD, since(child))
                if spec.demo_owner or rng.random() < 0.5:
                    if rng.random() < 0.5:
                        sponsor = self.head
                    else:
                        sponsor = self.cluster_leads.get(spec.customer.country, self.head)
                    add(spec, sponsor, Role.EXECUTIVE_SPONSOR, since(spec))
                if others and rng.random() < 0.2:
                    add(spec, rng.choice(others), Role.SUPPORT, since(spec))
            elif spec.is_key:
                country_team = self.national_managers[spec.country]
                colleagues = [m for m in country_team if m is not spec.owner]
                if colleagues and rng.random() < 0.3:
                    add(spec, rng.choice(colleagues), Role.SUPPORT, since(spec))
                if rng.random() < 0.1:
                    add(spec, self.cluster_leads[spec.country], Role.EXECUTIVE_SPONSOR, since(spec))
        self._insert(AccountTeamMember, "team members", members)

    # -- transactions ----------------------------------------------------------------------------

    def _write_transactions(self) -> None:
        buffer: list[Transaction] = []
        total = 0
        with self._bar("transactions", len(self.specs), unit="accounts") as bar:
            for spec in self.specs:
                if spec.window is not None and spec.rows > 0:
                    buffer.extend(self._account_transactions(spec))
                if len(buffer) >= 5 * BATCH_SIZE:
                    Transaction.objects.bulk_create(buffer, batch_size=BATCH_SIZE)
                    total += len(buffer)
                    buffer = []
                bar.update(1)
                bar.set_postfix(rows=total + len(buffer), refresh=False)
            Transaction.objects.bulk_create(buffer, batch_size=BATCH_SIZE)
            total += len(buffer)
        self.counts["transactions"] = total

    def _account_transactions(self, spec: _AccountSpec) -> list[Transaction]:
        rng = self._rng(f"transactions:{spec.index}")
        first, last = spec.window
        span = max(1, (last - first).days)
        trend = _Trend(spec.trend, span)

        def when(u: float) -> date:
            day = first + timedelta(days=trend.offset(u))
            if day.weekday() >= 5:  # orders arrive on working days
                day -= timedelta(days=day.weekday() - 4)
            return max(first, day)

        purchases = max(2, round(spec.rows * 0.1)) if rng.random() < 0.15 else 0
        credits = int(spec.rows * 0.02 + rng.random()) if spec.rows >= 10 else 0
        sale_lines = max(1, round((spec.rows - purchases - credits) / 1.03))
        order_sizes, lines_left = [], sale_lines
        while lines_left > 0:
            order_sizes.append(min(lines_left, rng.choices((1, 2, 3, 4), (55, 25, 12, 8))[0]))
            lines_left -= order_sizes[-1]
        # Orders per year at the end of the window times the mean order value = `size`, so the last
        # year's revenue is about `size` whatever the trend.
        order_value = spec.size / (len(order_sizes) * 365 * trend.end_density())

        n_lines = min(len(self.lines), max(1, round(1 + 7 * rng.random() ** (1.5 - spec.depth))))
        bought = rng.sample(range(len(self.lines)), n_lines)
        weights = [rng.random() + 0.1 for _ in bought]
        price_factor = rng.uniform(0.85, 1.10)
        margin_offset = rng.uniform(-0.08, 0.08) - (0.25 if rng.random() < 0.03 else 0)
        foreign = "USD" if spec.currency == "EUR" else "EUR"
        account_id = spec.account.pk
        rows: list[Transaction] = []

        def row(kind: str, day: date, currency: str, qty: Decimal, price: Decimal, **kw: Any):
            qty = _off_half_cent(qty, price)
            amount = Transaction.compute_amount(qty, price)
            rows.append(
                Transaction(
                    account_id=account_id,
                    kind=kind,
                    date=day,
                    quantity=qty,
                    unit_price=price,
                    amount=amount,
                    currency=currency,
                    amount_base=self.ratebook.to_base(amount, currency, day),
                    source_system=DEMO_SOURCE_SYSTEM,
                    external_reference=f"DEMO-{self._next('external'):07d}",
                    **kw,
                )
            )

        def quantity(value: float, decimals: int) -> Decimal:
            return max(_dec(value, decimals), _dec(10**-decimals, decimals))

        def price_in(eur_price: float, currency: str, day: date) -> Decimal:
            places = 0 if currency in WHOLE_UNIT_CURRENCIES else 2
            local = eur_price / self._eur_per_unit(currency, day)
            return max(_dec(local, places), _dec(10**-places, places))

        for number, count in enumerate(order_sizes):
            # Stratified over the window: orders come regularly, so a year's revenue follows the
            # trend rather than the luck of the draw.
            day = when((number + rng.random()) / len(order_sizes))
            currency = foreign if rng.random() < 0.05 else spec.currency
            reference = f"SO{day.year}-{self._next('order'):07d}"
            years = (day - self.period_start).days / 365
            line_value = order_value * math.exp(rng.gauss(0, 0.4) - 0.08) / count
            for index in rng.choices(bought, weights=weights, k=count):
                line, product = PRODUCT_LINES[index], self.lines[index]
                eur_price = line.price * price_factor * (1 + 0.03 * years) * rng.uniform(0.97, 1.03)
                price = price_in(eur_price, currency, day)
                value = line_value * math.exp(rng.gauss(0, 0.3) - 0.045)
                qty = quantity(value / eur_price, line.decimals)
                margin = _clamp(line.margin + margin_offset + rng.gauss(0, 0.03), -0.05, 0.75)
                cost = _dec(float(price) * (1 - margin), 4) if rng.random() < 0.9 else None
                sku = rng.randint(1, 40)
                fields = {
                    "product_line_id": product.pk,
                    "product_code": f"{line.code}-{sku:03d}",
                    "description": f"{line.name} {line.model}-{sku * 10}",
                    "unit_cost": cost,
                }
                row(Transaction.Kind.SALE, day, currency, qty, price, order_reference=reference,
                    **fields)  # fmt: skip
                if rng.random() < 0.03:
                    back = day + timedelta(days=rng.randint(5, 45))
                    if back <= last:
                        share = rng.uniform(0.1, 1.0)
                        returned = min(qty, quantity(float(qty) * share, line.decimals))
                        fields["description"] = f"Return: {fields['description']}"
                        rma = f"RMA-{self._next('return'):07d}"
                        row(Transaction.Kind.RETURN, back, currency, returned, price,
                            order_reference=rma, **fields)  # fmt: skip

        for _ in range(credits):
            day = when(rng.random())
            eur_value = spec.size * rng.uniform(0.002, 0.01)
            product_id = self.lines[rng.choice(bought)].pk if rng.random() < 0.5 else None
            reason = rng.choice(
                ("Volume rebate", "Price adjustment", "Quality claim settlement", "Freight refund")
            )
            row(
                Transaction.Kind.CREDIT_NOTE,
                day,
                spec.currency,
                Decimal(1),
                price_in(eur_value, spec.currency, day),
                product_line_id=product_id,
                description=reason,
                order_reference=f"CN-{self._next('credit'):07d}",
            )

        yearly_purchases = spec.size * rng.uniform(0.05, 0.4)
        for _ in range(purchases):
            day = self._day_between(rng, first, last)
            item = rng.randrange(len(PURCHASE_ITEMS))
            description, decimals, eur_price = PURCHASE_ITEMS[item]
            per_row = yearly_purchases * span / 365 / purchases
            row(
                Transaction.Kind.PURCHASE,
                day,
                spec.currency,
                quantity(per_row / eur_price * rng.uniform(0.5, 1.5), decimals),
                price_in(eur_price, spec.currency, day),
                product_code=f"P-{item + 1}",
                description=description,
                order_reference=f"PO-{self._next('purchase'):07d}",
            )
        return rows

    # -- relationship data -----------------------------------------------------------------------

    def _author(self, rng: random.Random, spec: _AccountSpec) -> Any:
        manager = spec.owner
        if spec.team and rng.random() < 0.2:
            manager = rng.choice(spec.team)
        return manager.user

    def _write_interactions(self) -> None:
        rng = self._rng("interactions")
        interactions: list[Interaction] = []
        links: list[tuple[Interaction, list[Contact]]] = []
        kinds = {"meeting": 30, "call": 30, "email": 20, "visit": 15, "event": 5}
        for spec in self.specs:
            contacts = [c for customer in spec.reach for c in customer.contacts]
            if spec.status == Account.Status.ACTIVE:
                if spec.level == Level.GLOBAL or spec.is_key:
                    recent = rng.randint(10, 40)
                else:
                    recent = 0 if rng.random() < 0.1 else rng.randint(2, 4 + int(14 * spec.depth))
            elif spec.status == Account.Status.PROSPECT:
                recent = rng.randint(1, 6)
            elif spec.status == Account.Status.DORMANT:
                recent = rng.randint(0, 2)
            else:
                recent = rng.randint(0, 1)
            older = round(recent * rng.uniform(0.3, 0.8))
            if spec.status in (Account.Status.DORMANT, Account.Status.LOST):
                older += rng.randint(2, 8)
            engaged_n = max(1, round(len(contacts) * (0.25 + 0.7 * spec.depth)))
            engaged = rng.sample(contacts, min(engaged_n, len(contacts)))
            mood = 0.5 + spec.depth - 1.2 * spec.declining
            for index in range(recent + older):
                if index < recent:
                    day = self.ref - timedelta(days=rng.randint(1, 364))
                else:
                    day = self.ref - timedelta(days=rng.randint(366, 730))
                met = rng.sample(engaged, min(len(engaged), rng.choice((1, 1, 1, 2, 2, 3))))
                kind = _pick(rng, kinds)
                names = ", ".join(c.name for c in met) if met else "the customer"
                interaction = Interaction(
                    account_id=spec.account.pk,
                    kind=kind,
                    occurred_at=self._aware(day, rng),
                    author_id=self._author(rng, spec).pk,
                    summary=f"{INTERACTION_VERBS[kind]} {names}: {rng.choice(INTERACTION_TOPICS)}.",
                    sentiment=int(_clamp(round(rng.gauss(mood, 0.9)), -2, 2)),
                )
                interactions.append(interaction)
                links.append((interaction, met))
        self._insert(Interaction, "interactions", interactions)
        through = Interaction.contacts.through
        rows = [
            through(interaction_id=interaction.pk, contact_id=contact.pk)
            for interaction, met in links
            for contact in met
        ]
        self._insert(through, "interaction contacts", rows)

    def _write_needs(self) -> None:
        rng = self._rng("needs")
        needs = []
        for spec in self.specs:
            n = rng.choices((0, 1, 2, 3, 4), weights=(20, 35, 25, 12, 8))[0]
            for description in rng.sample(NEEDS, n):
                age = rng.randint(0, 700)
                if age > 365:
                    status = _pick(rng, {"met": 45, "dropped": 25, "in_progress": 15, "open": 15})
                else:
                    status = _pick(rng, {"open": 40, "in_progress": 35, "met": 20, "dropped": 5})
                needs.append(
                    CustomerNeed(
                        account=spec.account,
                        description=description,
                        priority=_pick(rng, {"low": 25, "medium": 50, "high": 25}),
                        status=status,
                        identified_on=self.ref - timedelta(days=age),
                    )
                )
        self._insert(CustomerNeed, "needs", needs)

    def _write_opportunities(self) -> None:
        rng = self._rng("opportunities")
        Stage = Opportunity.Stage
        probability = {
            Stage.IDENTIFIED: 10,
            Stage.QUALIFIED: 25,
            Stage.PROPOSAL: 50,
            Stage.NEGOTIATION: 75,
            Stage.WON: 100,
            Stage.LOST: 0,
        }
        stages = {"identified": 15, "qualified": 15, "proposal": 15, "negotiation": 10,
                  "won": 25, "lost": 20}  # fmt: skip
        opportunities = []
        for spec in self.specs:
            if spec.status == Account.Status.PROSPECT:
                n = rng.randint(1, 3)
            elif spec.status in (Account.Status.DORMANT, Account.Status.LOST):
                n = rng.randint(0, 2)
            elif spec.level == Level.GLOBAL or spec.is_key:
                n = rng.randint(2, 7)
            else:
                n = rng.choices((0, 1, 2, 3, 4), weights=(20, 30, 25, 15, 10))[0]
            for _ in range(n):
                stage = _pick(rng, stages)
                if spec.status == Account.Status.PROSPECT:
                    stage = rng.choice((Stage.IDENTIFIED, Stage.QUALIFIED, Stage.PROPOSAL))
                elif spec.status == Account.Status.LOST:
                    stage = Stage.LOST
                is_open = stage in Opportunity.OPEN_STAGES
                if is_open:
                    close = self.ref + timedelta(days=rng.randint(10, 300))
                else:
                    close = self.ref - timedelta(days=rng.randint(5, 540))
                line = PRODUCT_LINES[rng.randrange(len(PRODUCT_LINES))]
                title = rng.choice(OPPORTUNITY_TITLES).format(line=line.name, year=close.year)
                value = spec.size * rng.uniform(0.03, 0.6) / EUR_VALUE[spec.currency]
                owner = spec.owner
                if spec.team and rng.random() < 0.2:
                    owner = rng.choice(spec.team)
                opportunities.append(
                    Opportunity(
                        account=spec.account,
                        title=title,
                        stage=stage,
                        value=_dec(max(1000.0, round(value, -2)), 2),
                        currency=spec.currency,
                        probability=probability[stage],
                        expected_close=close,
                        owner=owner,
                        is_joint_work=rng.random()
                        < (0.3 if is_open else 0.12) * (0.5 + spec.depth),
                    )
                )
        self._insert(Opportunity, "opportunities", opportunities)

    def _write_plans(self) -> None:
        """Current plans (their period contains the reference date), past ones, and their parts."""
        rng = self._rng("plans")
        plans: list[AccountPlan] = []
        objectives: list[tuple[PlanObjective, _AccountSpec]] = []
        this_year = (date(self.ref.year, 1, 1), date(self.ref.year, 12, 31))
        last_year = (date(self.ref.year - 1, 1, 1), date(self.ref.year - 1, 12, 31))
        for spec in self.specs:
            if spec.demo_owner or spec.level == Level.GLOBAL:
                chance = 0.9 if not spec.demo_owner else 1.0
            elif spec.is_key:
                chance = 0.85
            elif spec.status == Account.Status.ACTIVE:
                chance = 0.25
            else:
                chance = 0.1
            if rng.random() >= chance:
                continue
            current = spec.status != Account.Status.LOST and (
                spec.is_key or bool(spec.demo_owner) or rng.random() < 0.7
            )
            past = not current or rng.random() < 0.6
            periods = []
            if past:
                periods.append((last_year, AccountPlan.Status.CLOSED))
            if current:
                status = (
                    AccountPlan.Status.ACTIVE if rng.random() < 0.9 else AccountPlan.Status.DRAFT
                )
                periods.append((this_year, status))
            for (start, end), status in periods:
                plan = AccountPlan(
                    account=spec.account,
                    period_start=start,
                    period_end=end,
                    strategy=rng.choice(STRATEGIES),
                    status=status,
                )
                plans.append(plan)
                for template in rng.sample(OBJECTIVES, rng.randint(1, 4)):
                    description, metric, target = template
                    line = PRODUCT_LINES[rng.randrange(len(PRODUCT_LINES))].name
                    if status == AccountPlan.Status.CLOSED:
                        state = _pick(rng, {"achieved": 65, "dropped": 35})
                    else:
                        state = _pick(rng, {"active": 70, "achieved": 20, "dropped": 10})
                    objective = PlanObjective(
                        plan=plan,
                        description=description.format(line=line),
                        metric=metric.format(line=line),
                        target=target,
                        due_on=self._day_between(rng, start, end),
                        is_joint_work=rng.random() < (0.3 if spec.is_key else 0.12),
                        status=state,
                    )
                    objectives.append((objective, spec))
        self._insert(AccountPlan, "account plans", plans)
        self._insert(PlanObjective, "plan objectives", [o for o, _ in objectives])

        actions = []
        for objective, spec in objectives:
            start, end = objective.plan.period_start, objective.plan.period_end
            closed = objective.plan.status == AccountPlan.Status.CLOSED
            for description in rng.sample(ACTIONS, rng.randint(1, 4)):
                due = self._day_between(rng, start, end)
                done_on = None
                if due < self.ref:
                    weights = {"done": 75, "cancelled": 15, "open": 10} if closed else {
                        "done": 65, "cancelled": 10, "open": 25}  # fmt: skip
                    status = _pick(rng, weights)
                    if status == PlanAction.Status.DONE:
                        done_on = due + timedelta(days=rng.randint(-20, 10))
                        done_on = min(max(done_on, start), self.ref)
                else:
                    status = _pick(rng, {"open": 85, "done": 15})
                    if status == PlanAction.Status.DONE:
                        done_on = self._day_between(rng, start, self.ref)
                owner = spec.owner
                if spec.team and rng.random() < 0.3:
                    owner = rng.choice(spec.team)
                actions.append(
                    PlanAction(
                        objective=objective,
                        description=description,
                        owner=owner,
                        due_on=due,
                        status=status,
                        done_on=done_on,
                    )
                )
        self._insert(PlanAction, "plan actions", actions)

    def _write_service_cases(self) -> None:
        rng = self._rng("service cases")
        Status = ServiceCase.Status
        severities = {"low": 35, "medium": 40, "high": 18, "critical": 7}
        draws = []  # [spec, cases, with an open escalation]
        for spec in self.specs:
            if spec.window is not None:
                n = rng.choices((0, 1, 2, 3, 5), weights=(40, 30, 15, 10, 5))[0]
                draws.append([spec, n, rng.random() < 0.06 and spec.status == "active"])
        if draws and not any(escalated for _, _, escalated in draws):
            draws[0][2] = True  # at least one open severe case, whatever the draw
        cases = []
        for spec, n, escalated in draws:
            for index in range(n + escalated):
                opened = self._aware(self.ref - timedelta(days=rng.randint(1, 540)), rng)
                severity = _pick(rng, severities)
                age = (self.ref - opened.date()).days
                if index == n:  # an escalation still open: a severe, recent case
                    opened = self._aware(self.ref - timedelta(days=rng.randint(1, 45)), rng)
                    severity, status = rng.choice(("high", "critical")), Status.OPEN
                elif age <= 60:
                    status = _pick(
                        rng, {"open": 40, "in_progress": 30, "resolved": 20, "closed": 10}
                    )
                else:
                    status = _pick(rng, {"closed": 65, "resolved": 25, "in_progress": 5, "open": 5})
                closed = None
                if status in (Status.RESOLVED, Status.CLOSED):
                    closed = opened + timedelta(hours=rng.randint(1, 40 * 24))
                    latest = datetime.combine(self.ref, time(18), tzinfo=self.tz)
                    closed = max(opened, min(closed, latest))
                cases.append(
                    ServiceCase(
                        account=spec.account,
                        subject=rng.choice(CASE_SUBJECTS),
                        severity=severity,
                        status=status,
                        opened_at=opened,
                        closed_at=closed,
                    )
                )
        self._insert(ServiceCase, "service cases", cases)

    def _write_assessments(self) -> None:
        """1-3 dated reviews per account; some show a supplier-status drop or a notice."""
        rng = self._rng("assessments")
        contract_ladder = Assessment.ContractType.values  # none ... strategic_agreement
        status_ladder = Assessment.SupplierStatus.values  # none ... sole
        draws = []  # [spec, number of assessments, supplier-status drop, termination notice]
        for spec in self.specs:
            prospect = spec.status == Account.Status.PROSPECT
            n = 1 if prospect else rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
            drop = n >= 2 and rng.random() < (0.3 if spec.declining else 0.06)
            if spec.status == Account.Status.LOST:
                notice_chance = 0.5
            else:
                notice_chance = 0.12 if spec.declining else 0.005
            draws.append([spec, n, drop, rng.random() < notice_chance])
        # At least one drop and one notice, whatever the draw, on accounts where they fit.
        candidates = [d for d in draws if d[0].status != "prospect" and not d[0].demo_owner]
        candidates.sort(key=lambda d: (not d[0].declining, d[0].status != "lost", d[0].index))
        if candidates and not any(d[2] for d in draws):
            candidates[0][1], candidates[0][2] = max(2, candidates[0][1]), True
        if candidates and not any(d[3] for d in draws):
            candidates[1 if len(candidates) > 1 else 0][3] = True

        assessments = []
        for spec, n, drop, notice in draws:
            prospect = spec.status == Account.Status.PROSPECT
            days = [self.ref - timedelta(days=rng.randint(3, 150))]
            for _ in range(n - 1):
                days.append(days[-1] - timedelta(days=rng.randint(120, 240)))
            for age, day in enumerate(days):  # the latest first
                depth = _clamp(spec.depth - age * rng.uniform(0, 0.1), 0, 1)
                contract = int(_clamp((depth + rng.gauss(0, 0.12)) * 5, 0, 4))
                supplier = int(_clamp((depth + rng.gauss(0, 0.15)) * 4, 0, 3))
                if supplier == 3 and rng.random() < 0.5:
                    supplier = 2
                if prospect:
                    contract, supplier = min(contract, 1), min(supplier, 1)
                if drop and age == 0:
                    supplier = rng.choice((0, 1))
                elif drop and age == 1:
                    supplier = rng.choice((2, 2, 3))
                satisfaction = 3 + 2 * (depth - 0.5) - 1.2 * spec.declining + rng.gauss(0, 0.8)
                assessments.append(
                    Assessment(
                        account=spec.account,
                        assessed_on=day,
                        assessor=spec.owner.user,
                        contract_type=contract_ladder[contract],
                        supplier_status=status_ladder[supplier],
                        forecast_sharing=rng.random() < 0.9 * depth,
                        edi_link=rng.random() < 0.7 * depth,
                        open_book_costing=rng.random() < 0.4 * depth,
                        strategic_fit=_rating(1 + 4 * depth + rng.gauss(0, 0.8)),
                        openness=_rating(1 + 4 * depth + rng.gauss(0, 1.0)),
                        satisfaction=_rating(satisfaction),
                        customisation=_rating(1 + 4 * spec.complexity + rng.gauss(0, 0.7)),
                        technical_novelty=_rating(1 + 4 * spec.complexity + rng.gauss(0, 0.9)),
                        change_frequency=_rating(1 + 4 * spec.complexity + rng.gauss(0, 0.9)),
                        termination_notice=notice and age == 0,
                        comment=rng.choice(ASSESSMENT_COMMENTS),
                    )
                )
        self._insert(Assessment, "assessments", assessments)

    def _write_investments(self) -> None:
        """Specific investments on both sides, aiming at one of Bensaou's four quadrants."""
        rng = self._rng("investments")
        Side = RelationshipInvestment.Side
        kinds = RelationshipInvestment.Kind.values
        investments = []
        for spec in self.specs:
            if spec.status == Account.Status.PROSPECT:
                continue
            d = spec.depth
            quadrant = _pick(
                rng,
                {
                    "market_exchange": 60 - 40 * d,
                    "captive_buyer": 15,
                    "captive_supplier": 15,
                    "strategic_partnership": 10 + 40 * d,
                },
            )
            high = {
                Side.CUSTOMER: quadrant in ("captive_buyer", "strategic_partnership"),
                Side.SUPPLIER: quadrant in ("captive_supplier", "strategic_partnership"),
            }
            for side, is_high in high.items():
                target = rng.randint(3, 7) if is_high else rng.choice((0, 0, 1, 2))
                while target > 0:
                    intensity = min(target, rng.choice((1, 2, 2, 3)))
                    target -= intensity
                    kind = rng.choice(kinds)
                    start = self.ref - timedelta(days=rng.randint(30, 2000))
                    investments.append(
                        RelationshipInvestment(
                            account=spec.account,
                            side=side,
                            kind=kind,
                            description=INVESTMENT_DESCRIPTIONS[kind],
                            intensity=intensity,
                            start_date=start,
                        )
                    )
                if rng.random() < 0.15:  # an investment that has run out
                    start = self.ref - timedelta(days=rng.randint(400, 2500))
                    kind = rng.choice(kinds)
                    investments.append(
                        RelationshipInvestment(
                            account=spec.account,
                            side=side,
                            kind=kind,
                            description=INVESTMENT_DESCRIPTIONS[kind],
                            intensity=rng.randint(1, 3),
                            start_date=start,
                            end_date=self._day_between(rng, start, self.ref - timedelta(days=1)),
                        )
                    )
        self._insert(RelationshipInvestment, "investments", investments)
