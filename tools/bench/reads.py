"""Section 2: read units for one page of events, with few and with many events stored."""

from __future__ import annotations

from dataclasses import dataclass

from bench.section import Options, Section, Target, growth_targets
from bench.stack import Stack, Tenant, in_process_moto
from bench.workload import make_event

PAGE_LIMIT = "20"
TARGET_PAGE_RATIO = 1.0  # a page costs the same however many events are stored


@dataclass(frozen=True)
class Sizes:
    stored_small: int
    stored_large: int

    @classmethod
    def of(cls, options: Options) -> Sizes:
        return cls(200, 600) if options.quick else cls(1_000, 10_000)


@dataclass
class PageCost:
    rcu: float  # the handler's read units (app lookup + the Query pages)
    authorizer_rcu: float
    evaluated: int  # items the Query pages evaluated
    pages: int  # Query requests
    returned: int
    next_cursor: str | None


@dataclass(frozen=True)
class PageVariant:
    label: str
    query: dict[str, str]
    returns: int  # events the page holds
    target: bool  # its cost must not grow with the events stored
    follow: bool = True  # read page 2 through the cursor too
    slow: bool = False  # at the larger size only with --full: moto's Query is O(n) a page


PAGE_VARIANTS = (
    PageVariant("no filter", {"limit": PAGE_LIMIT}, int(PAGE_LIMIT), target=True),
    PageVariant(
        "level=ERROR (1 in 3 match)",
        {"limit": PAGE_LIMIT, "level": "ERROR"},
        int(PAGE_LIMIT),
        target=True,
    ),
    PageVariant(
        "level=CRITICAL (none match)",
        {"limit": PAGE_LIMIT, "level": "CRITICAL"},
        0,
        target=False,
        follow=False,
        slow=True,
    ),
)


def read_page(stack: Stack, tenant: Tenant, query: dict[str, str], expected: int) -> PageCost:
    reply = stack.list_events(tenant, query)
    used = reply.handler
    if used.scanned_count_mismatches:
        raise RuntimeError("bench: a re-issued Query page differed from the page's ScannedCount")
    cost = PageCost(
        rcu=used.read_units,
        authorizer_rcu=reply.authorizer.read_units,
        evaluated=sum(used.evaluated.values()),
        pages=sum(n for op, n in used.calls.items() if op.endswith(".Query")),
        returned=len(reply.body["items"]),
        next_cursor=reply.body.get("next_cursor"),
    )
    if cost.returned != expected:
        raise RuntimeError(f"bench: GET {query} returned {cost.returned} events, not {expected}")
    return cost


def read_pages(stack: Stack, tenant: Tenant, slow: bool) -> dict[str, PageCost]:
    """The first page of each variant, and the page after it (by its cursor)."""
    costs = {}
    for variant in PAGE_VARIANTS:
        if variant.slow and not slow:
            continue
        first = costs[variant.label] = read_page(stack, tenant, variant.query, variant.returns)
        if variant.follow:
            if first.next_cursor is None:
                raise RuntimeError(f"bench: {variant.label}: no next page to follow")
            next_query = {**variant.query, "cursor": first.next_cursor}
            costs[f"{variant.label}, page 2"] = read_page(
                stack, tenant, next_query, variant.returns
            )
    return costs


@dataclass
class ReadsResult:
    sizes: Sizes
    small: dict[str, PageCost]  # page label -> its cost with sizes.stored_small events stored
    large: dict[str, PageCost]
    scans: int


def measure(options: Options) -> ReadsResult:
    """The pages of one app, with `stored_small` events stored, then `stored_large` (setup, not
    counted: stored through the core, as section 1 writes them)."""
    sizes = Sizes.of(options)
    with in_process_moto() as stack:
        tenant = stack.tenant("bench-pages")
        stack.store(tenant.app_id, [make_event(i) for i in range(sizes.stored_small)])
        small = read_pages(stack, tenant, slow=True)
        more = range(sizes.stored_small, sizes.stored_large)
        stack.store(tenant.app_id, [make_event(i) for i in more])
        large = read_pages(stack, tenant, slow=options.full)
        return ReadsResult(sizes, small, large, stack.scans)


def show(result: ReadsResult) -> None:
    small_size, large_size = result.sizes.stored_small, result.sizes.stored_large
    print(
        f"   {'page':<38} {f'{small_size:,} stored':>15} {f'{large_size:,} stored':>15} "
        f"{'ratio':>6}   items evaluated / Query requests"
    )
    targeted = {variant.label for variant in PAGE_VARIANTS if variant.target}
    for label, cost in result.small.items():
        note = "" if label.split(", page")[0] in targeted else "  (no target)"
        big = result.large.get(label)
        if big is None:
            print(
                f"   {label:<38} {cost.rcu:>11.2f} RCU {'(with --full)':>15} {'':>6}"
                f"   {cost.evaluated} / {cost.pages} -> ?{note}"
            )
            continue
        print(
            f"   {label:<38} {cost.rcu:>11.2f} RCU {big.rcu:>11.2f} RCU {big.rcu / cost.rcu:>6.2f}"
            f"   {cost.evaluated} / {cost.pages} -> {big.evaluated} / {big.pages}{note}"
        )
    costs = (*result.small.values(), *result.large.values())
    auth = sorted({cost.authorizer_rcu for cost in costs})
    print(
        "   RCU: the query handler's (app lookup + Query pages); the authorizer adds "
        f"{' / '.join(f'{units:.2f}' for units in auth)} RCU a request"
    )


def targets(result: ReadsResult | None, options: Options) -> list[Target]:
    sizes = result.sizes if result else Sizes.of(options)
    labels = [variant.label for variant in PAGE_VARIANTS if variant.target]
    return growth_targets(
        "page", labels, result, sizes.stored_small, sizes.stored_large, TARGET_PAGE_RATIO
    )


SECTION = Section(
    key="reads",
    title=f"2. Read request units for one page of events (limit {PAGE_LIMIT})",
    subtitle="GET /apps/{app_id}/events: authorizer + query handler, through the local stack's "
    "gateway, tables in moto",
    measure=measure,
    show=show,
    targets=targets,
    scans=lambda result: result.scans,
)
