"""Case linking: incidents that share identifiers or money flows become one case.

Pure and incremental. Each incident brings a set of *keys* -- normalised identifiers prefixed by their kind
(``phone:+375291234567``, ``account:BY..``, ``domain:shop.by``, ``flow:BY..`` for an account the disputed
money reached downstream). Two incidents that share a key are linked; a case is a connected component,
kept in a union-find with history: every merge and split is an event naming the key that caused it.

Hub suppression. A key seen in more incidents than its kind's cap (a marketplace's domain, a bank's
hotline number, a shared NAT address, an exchange's deposit account downstream) stops linking. When a
key crosses its cap, the merges it caused are undone by re-linking the affected cases without it, so the
incremental result always equals linking the same incidents in one batch (``link_batch``) -- the tests
check that. Caps are absolute counts, not shares of the total, so a key's fate never flips back.

Analysts' decisions are constraints: a manual merge is a must-link; a manual split puts a barrier between
the moved incidents and the rest, which automatic linking then respects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zaslon.errors import InvalidInput, NotFound

DEFAULT_CAPS: Mapping[str, int] = {
    # Per kind: at most this many incidents may share one key before it counts as a hub.
    "account": 60,  # a drop account takes a few victims; a merchant or exchange takes thousands
    "flow": 40,  # downstream accounts: cash-out and exchange accounts are shared by unrelated groups
    "phone": 60,
    "wallet": 60,
    "url": 60,
    "domain": 40,
    "email": 60,
    "email_domain": 60,  # the sender's domain: lookalikes (gmaii.com) are a fake-director group's signature
    # A group works its drops from a few phones and an address pool, so these recur across its reports;
    # carrier-grade NAT puts thousands behind one address, so an address seen in more is a hub.
    "device": 60,
    "ip": 40,
    "apple_id": 60,
    "card": 60,
}
FALLBACK_CAP = 40
# Weak kinds link last: when an incident already joined through a specific key, a weak key's link is
# redundant, so it is no edge of the forest and its later demotion to a hub costs nothing.
WEAK_KINDS = frozenset({"flow", "ip", "device"})


@dataclass(frozen=True, slots=True)
class LinkEvent:
    seq: int
    kind: str  # "create" | "join" | "merge" | "split" | "manual_merge" | "manual_split"
    case: int  # the case that remains / was created
    other: int | None  # the case absorbed (merge) or split off (split)
    incident: str | None
    reason: str  # the shared key, the hub key, or the analyst's reason


@dataclass
class _State:
    parent: list[int] = field(default_factory=list)
    members: dict[int, list[int]] = field(default_factory=dict)  # root -> incident indices
    case_no: dict[int, int] = field(default_factory=dict)  # root -> case number
    barriers: dict[int, set[tuple[int, int]]] = field(default_factory=dict)  # root -> (barrier, side)
    case_root: dict[int, int] = field(default_factory=dict)  # case number -> root


_NONE: frozenset[tuple[int, int]] = frozenset()


class Linker:
    """Incremental linker. Incidents are added once; ``add`` returns the events it caused."""

    def __init__(self, caps: Mapping[str, int] | None = None) -> None:
        self.caps = dict(DEFAULT_CAPS if caps is None else caps)
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self._key_id: dict[str, int] = {}
        self._key_names: list[str] = []
        self._key_cap: list[int] = []
        self._df: list[int] = []
        self._postings: list[list[int] | None] = []  # None once the key is a hub
        # Whether the key is an edge of the current spanning forest. A hub that never was needs no re-link:
        # the components are exactly the same without it. This keeps demotions cheap in big cases.
        self._caused: list[bool] = []
        self._key_weak: list[bool] = []
        self._incident_keys: list[list[int]] = []
        self._incident_barriers: dict[int, set[tuple[int, int]]] = {}
        self._must: dict[int, list[int]] = {}  # incident -> incidents it must be with
        self._s = _State()
        self._next_case = 1
        self._next_barrier = 1
        self._events: list[tuple[str, int, int | None, int | None, str]] = []

    # -- queries --------------------------------------------------------------------------------
    def find(self, i: int) -> int:
        parent = self._s.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    def case_of(self, incident_id: str) -> int:
        if incident_id not in self.index:
            raise NotFound(f"incident {incident_id!r} is not linked", field="incident_id")
        return self._s.case_no[self.find(self.index[incident_id])]

    def cases(self) -> dict[int, list[str]]:
        """Case number -> incident ids (in the order they were added)."""
        return {
            self._s.case_no[r]: [self.ids[i] for i in sorted(m)] for r, m in self._s.members.items()
        }

    def hubs(self) -> list[tuple[str, int]]:
        return [(self._key_names[k], self._df[k]) for k, p in enumerate(self._postings) if p is None]

    def _root_of_case(self, case: int) -> int:
        root = self._s.case_root.get(case)
        if root is None:
            raise NotFound(f"case {case} does not exist", field="case")
        return root

    # -- adding incidents -------------------------------------------------------------------------
    def _intern(self, key: str) -> int:
        kid = self._key_id.get(key)
        if kid is None:
            kid = len(self._key_names)
            self._key_id[key] = kid
            self._key_names.append(key)
            kind = key.split(":", 1)[0]
            self._key_cap.append(self.caps.get(kind, FALLBACK_CAP))
            self._key_weak.append(kind in WEAK_KINDS)
            self._df.append(0)
            self._postings.append([])
            self._caused.append(False)
        return kid

    def _event(self, kind: str, case: int, other: int | None, incident: int | None, reason: str) -> None:
        self._events.append((kind, case, other, incident, reason))

    def _new_case(self) -> int:
        no = self._next_case
        self._next_case += 1
        return no

    def add(self, incident_id: str, keys: Iterable[str]) -> list[LinkEvent]:
        """Link one new incident; returns the events it caused (its case is ``case_of(incident_id)``)."""
        first_event = len(self._events)
        self.add_quiet(incident_id, keys)
        return self.events_since(first_event)

    def add_quiet(self, incident_id: str, keys: Iterable[str]) -> None:
        """``add`` without building event objects (the history is still recorded): the bulk path."""
        index = self.index
        if incident_id in index:
            raise InvalidInput(f"incident {incident_id!r} was already linked", field="incident_id")
        i = len(self.ids)
        self.ids.append(incident_id)
        index[incident_id] = i
        s = self._s
        parent = s.parent
        parent.append(i)
        s.members[i] = [i]
        no = self._next_case
        self._next_case = no + 1
        s.case_no[i] = no
        s.case_root[no] = i
        key_id, weak = self._key_id, self._key_weak
        strong_ids: list[int] = []
        weak_ids: list[int] = []
        for k in keys:
            kid = key_id.get(k)
            if kid is None:
                if not k:
                    continue
                kid = self._intern(k)
            (weak_ids if weak[kid] else strong_ids).append(kid)
        kids = strong_ids + weak_ids if weak_ids else strong_ids
        if len(kids) > 1:
            kids = list(dict.fromkeys(kids))
        self._incident_keys.append(kids)
        self._events.append(("create", no, None, i, "new incident"))
        df, postings_of, cap, names = self._df, self._postings, self._key_cap, self._key_names
        r = i  # root of the new incident's case, kept current
        for kid in kids:
            df[kid] += 1
            postings = postings_of[kid]
            if postings is None:
                continue
            if df[kid] > cap[kid]:
                self._demote(kid)
                r = self.find(i)
                continue
            if postings:
                # Fast path: most shared keys point into the case the incident already joined.
                p = postings[0]
                while parent[p] != p:
                    p = parent[p]
                if p != r:
                    fresh = r == i and len(s.members[i]) == 1
                    if self._union(i, postings[0], names[kid], i, fresh=fresh):
                        self._caused[kid] = True
                    r = self.find(i)
            postings.append(i)

    @property
    def events(self) -> list[LinkEvent]:
        return self.events_since(0)

    def events_since(self, start: int) -> list[LinkEvent]:
        """History from position ``start`` (0-based) on, as events numbered from 1."""
        return [
            LinkEvent(start + n + 1, kind, case, other, None if inc is None else self.ids[inc], reason)
            for n, (kind, case, other, inc, reason) in enumerate(self._events[start:])
        ]

    @property
    def n_events(self) -> int:
        return len(self._events)

    def _union(self, a: int, b: int, reason: str, incident: int | None, manual: bool = False,
               fresh: bool = False) -> bool:
        s = self._s
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        ba, bb = s.barriers.get(ra, _NONE), s.barriers.get(rb, _NONE)
        if ba and bb and not manual and any((bar, 1 - side) in bb for bar, side in ba):
            return False  # an analyst split these apart; automatic linking respects it
        # The older case (smaller number) keeps its number: case numbers analysts quote stay valid.
        na, nb = s.case_no.pop(ra), s.case_no.pop(rb)
        keep_no, gone_no = (na, nb) if na < nb else (nb, na)
        big, small = (ra, rb) if len(s.members[ra]) >= len(s.members[rb]) else (rb, ra)
        s.parent[small] = big
        s.members[big].extend(s.members.pop(small))
        s.case_no[big] = keep_no
        if ba or bb:
            s.barriers.pop(ra, None)
            s.barriers.pop(rb, None)
            s.barriers[big] = set(ba) | set(bb)
        del s.case_root[gone_no]
        s.case_root[keep_no] = big
        kind = "join" if fresh else ("manual_merge" if manual else "merge")
        self._events.append((kind, keep_no, gone_no, incident, reason))
        return True

    def _demote(self, kid: int) -> None:
        """``kid`` just became a hub: re-link every case it touched without it."""
        postings = self._postings[kid] or []
        self._postings[kid] = None
        if not self._caused[kid]:
            return  # never an edge of the forest: removing it changes no case
        roots = {self.find(i) for i in postings}
        self._relink(roots, f"hub:{self._key_names[kid]} (in {self._df[kid]} incidents)")

    def _relink(self, roots: set[int], reason: str) -> None:
        s = self._s
        old: dict[int, int] = {}  # incident -> old case number
        for r in roots:
            no = s.case_no.pop(r)
            s.case_root.pop(no, None)
            s.barriers.pop(r, None)
            for m in s.members.pop(r):
                old[m] = no
        affected = sorted(old)
        for m in affected:
            s.parent[m] = m
            s.members[m] = [m]
            s.case_no[m] = -m - 1  # placeholder, renumbered below
            s.case_root[-m - 1] = m
            own = self._incident_barriers.get(m)
            if own:
                s.barriers[m] = set(own)
        n_events = len(self._events)
        for m in affected:
            for kid in self._incident_keys[m]:
                self._caused[kid] = False
        for m in affected:
            for kid in self._incident_keys[m]:
                postings = self._postings[kid]
                if postings and postings[0] != m and postings[0] in old and \
                        self._union(m, postings[0], self._key_names[kid], None):
                    self._caused[kid] = True
            for other in self._must.get(m, ()):
                self._union(m, other, "analyst merge", None, manual=True)
        del self._events[n_events:]  # internal re-unions are not news; the split events below are
        # Renumber: each old case's number goes to the new part holding most of its incidents.
        parts: dict[int, list[int]] = {}
        for m in affected:
            parts.setdefault(self.find(m), []).append(m)
        taken: set[int] = set()
        ranked = sorted(parts.items(), key=lambda kv: (-len(kv[1]), kv[1][0]))
        for root, mem in ranked:
            counts: dict[int, int] = {}
            for m in mem:
                counts[old[m]] = counts.get(old[m], 0) + 1
            choice = next((no for no, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                           if no not in taken), None)
            if choice is None:
                choice = self._new_case()
                self._event("split", choice, min(counts), None, reason)
            taken.add(choice)
            s.case_root.pop(s.case_no[root], None)
            s.case_no[root] = choice
            s.case_root[choice] = root
        for no in sorted(set(old.values()) - taken):
            self._event("split", no, None, None, reason + " (case emptied)")

    # -- analysts' decisions --------------------------------------------------------------------
    def merge(self, case_a: int, case_b: int, reason: str = "analyst merge") -> int:
        ra, rb = self._root_of_case(case_a), self._root_of_case(case_b)
        if ra == rb:
            return case_a
        a, b = self._s.members[ra][0], self._s.members[rb][0]
        self._must.setdefault(a, []).append(b)
        self._must.setdefault(b, []).append(a)
        # Barriers between the two go: the analyst has decided they belong together.
        s = self._s
        joint = s.barriers.get(ra, set()) | s.barriers.get(rb, set())
        clash = {(bar, side) for bar, side in joint if (bar, 1 - side) in joint}
        for m in s.members[ra] + s.members[rb]:
            own = self._incident_barriers.get(m)
            if own:
                own -= clash
        s.barriers[ra] = s.barriers.get(ra, set()) - clash
        s.barriers[rb] = s.barriers.get(rb, set()) - clash
        self._union(a, b, reason, None, manual=True)
        return self._s.case_no[self.find(a)]

    def split(self, incident_ids: Iterable[str], reason: str = "analyst split") -> int:
        """Move ``incident_ids`` (all from one case, not all of it) into a new case; returns its number."""
        idx = sorted({self.index[x] for x in incident_ids if x in self.index})
        missing = [x for x in incident_ids if x not in self.index]
        if missing or not idx:
            raise NotFound(f"incidents not linked: {missing or 'none given'}", field="incident_ids")
        root = self.find(idx[0])
        if any(self.find(i) != root for i in idx):
            raise InvalidInput("the incidents to split off must all be in one case", field="incident_ids")
        rest = [m for m in self._s.members[root] if m not in set(idx)]
        if not rest:
            raise InvalidInput("a split must leave at least one incident in the case", field="incident_ids")
        old_no = self._s.case_no[root]
        bar = self._next_barrier
        self._next_barrier += 1
        moved = set(idx)
        for m in self._s.members[root]:
            self._incident_barriers.setdefault(m, set()).add((bar, 0 if m in moved else 1))
            self._must[m] = [o for o in self._must.get(m, []) if (o in moved) == (m in moved)]
        # The analyst placed each side together: keep each side whole even if its links ran through the other.
        for side in (idx, rest):
            for m in side[1:]:
                self._must.setdefault(side[0], []).append(m)
                self._must.setdefault(m, []).append(side[0])
        n_events = len(self._events)
        self._relink({root}, reason)
        del self._events[n_events:]
        new_no = self._s.case_no[self.find(idx[0])]
        if new_no == old_no:  # the moved part was the bigger one: it keeps nothing, it gets a new number
            fresh = self._new_case()
            s = self._s
            moved_root, rest_root = self.find(idx[0]), self.find(rest[0])
            s.case_no[moved_root] = fresh
            s.case_root[fresh] = moved_root
            s.case_no[rest_root] = old_no
            s.case_root[old_no] = rest_root
            new_no = fresh
        self._event("manual_split", new_no, old_no, None, reason)
        return new_no


def link_batch(incidents: Iterable[tuple[str, Iterable[str]]], caps: Mapping[str, int] | None = None
               ) -> list[set[str]]:
    """Reference batch linking (no analysts' decisions): components of incidents over non-hub keys.

    Independent of ``Linker`` on purpose, so tests can check that incremental linking gives the same cases.
    """
    cap_of = dict(DEFAULT_CAPS if caps is None else caps)
    items = [(iid, sorted(set(k for k in keys if k))) for iid, keys in incidents]
    df: dict[str, int] = {}
    for _, keys in items:
        for k in keys:
            df[k] = df.get(k, 0) + 1
    parent = list(range(len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first: dict[str, int] = {}
    for i, (_, keys) in enumerate(items):
        for k in keys:
            if df[k] > cap_of.get(k.split(":", 1)[0], FALLBACK_CAP):
                continue
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    groups: dict[int, set[str]] = {}
    for i, (iid, _) in enumerate(items):
        groups.setdefault(find(i), set()).add(iid)
    return list(groups.values())
