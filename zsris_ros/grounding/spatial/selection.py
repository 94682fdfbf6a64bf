"""
Choose the proposal a spatial reading refers to, or ask which one when two fit as well.

CLIP scores say what each proposal looks like; this module adds where it is. Scores become
distributions (softmax), duplicate masks of one object are merged, relations to anchors are
expectations over the anchors' own distributions, and positions and ordinals compare a
proposal with the other probable targets. Everything combines as a sum of logs. Pure numpy
on per-proposal summaries: no model runs here.
"""

from dataclasses import dataclass, field, replace
import re

import numpy as np

from .layout import (between, box_inside, centre_distances, Layout, measure, relation,
                     sigmoid)
from .reading import Reading, Relation

EPS = 1e-6
#: Anchors with this much probability or less take no part in 'between' (it is cubic in N).
BETWEEN_TOP = 8
#: Relations that pick the extreme among the targets rather than hold pairwise.
SUPERLATIVE_RELATIONS = ('closest_to', 'farthest_from')
#: The superlative axis a size adjective compares along.
SIZE_EXTREMES = {'big': 'biggest', 'small': 'smallest'}
CONTRADICTIONS = (('left', 'right'), ('top', 'bottom'), ('nearest', 'farthest'),
                  ('biggest', 'smallest'))
RELATION_WORDS = {'left_of': 'left of', 'right_of': 'right of', 'in_front_of': 'in front of',
                  'next_to': 'next to', 'closest_to': 'closest to',
                  'farthest_from': 'farthest from', 'bigger_than': 'bigger than',
                  'smaller_than': 'smaller than'}


@dataclass(frozen=True)
class SpatialSettings:
    """
    Every weight, temperature and threshold of the selection (ROS parameters).

    Defaults were measured on synthetic scenes (test/grounding/spatial/calibrate.py): each
    value is the best of a sweep with the others held at their defaults; see that file.
    """

    #: Softmax temperature of the target's CLIP cosines; with candidate_ratio it sets how far
    #: below the best cosine an object still counts as a target (0.05 * ln 2 = 0.035).
    target_temperature: float = 0.05
    #: Softmax temperature of each anchor's CLIP cosines.
    anchor_temperature: float = 0.01
    #: Exponent of each relation to an anchor in the product.
    relation_weight: float = 1.0
    #: Exponent of each position, ordinal and superlative relation in the product.
    position_weight: float = 1.0
    #: Width of every soft comparison, in object sizes.
    softness: float = 0.25
    #: A size adjective ("the big cup") holds for a candidate unless another is this many
    #: times bigger (smaller) in area: objects of one size stay alike, to be asked about.
    size_ratio: float = 2.0
    #: A proposal counts as a probable target (for ranks and superlatives) from this fraction
    #: of the best one's probability.
    candidate_ratio: float = 0.5
    #: Also a probable target: every object above the widest gap in the log-probabilities
    #: within this many nats of the best (0 turns it off): classes split where scores do.
    candidate_window: float = 2.0
    #: Ambiguous when the runner-up object has at least this fraction of the best's probability.
    ambiguity_ratio: float = 0.8
    #: Below this support of a relation for the chosen object, nothing fits: no match (flat in
    #: the sweep; 0.3 is a relation clearly failed, 0.5 being "on its edge").
    min_support: float = 0.3
    #: Two masks are one object from this IoU (flat in the sweep; SAM's copies of one object
    #: overlap 0.85-0.95)...
    duplicate_iou: float = 0.8
    #: ...or when the smaller lies this much inside the larger...
    duplicate_inside: float = 0.9
    #: ...and has at least this fraction of its area (a cup inside a plate's outline has less).
    duplicate_area_ratio: float = 0.5
    #: A mask whose box lies duplicate_inside in a larger mask's box is a part of that object
    #: (a highlight, a shaded side: one segment of a shape cut in two) when it has at most this
    #: fraction of its area...
    part_area_ratio: float = 0.2
    #: ...and its centroid lies within this many of the whole's sizes of the whole's (toy
    #: pieces: 0.3-0.56, objects in a surrounding table patch: from 0.08 at ratios over 0.7).
    part_offset: float = 0.6
    #: An object answers with its outermost mask unless a part's cosine beats it by this many
    #: target temperatures (the part is then e^margin times as probable as the whole).
    part_margin: float = 1.0
    #: A relative depth difference of this much counts as one object size (5 cm at 1 m: a
    #: tabletop object; geometry, not swept).
    depth_unit: float = 0.05
    #: 'Between' two anchors allows this fraction of their distance off the line joining them.
    between_spread: float = 0.3
    #: Anchors nested deeper than this are ignored (with a message).
    max_anchor_depth: int = 4
    #: Temperature of each proposal's two-way choice between a phrase and the background
    #: prompts (CLIP's own logit scale is 100, so 0.01): 'the object' or 'the red thing' say
    #: little about shape, and without this a patch of table counts as one more object.
    background_temperature: float = 0.01
    #: Temperature of each proposal's choice between the target phrase and a negated one
    #: ("the cup that is not red": "the cup" or "red cup"), on CLIP's own scale (1/100).
    negation_temperature: float = 0.01
    #: Two candidates that fit alike are told apart when dropping one describing word costs
    #: the best this much more cosine than the other (0 turns the check off): "the small
    #: cup" and a big cup scoring close, but all of the gap in the word "small". The toy
    #: CLIP's best is 0.04; real CLIP's cosines spread about a third as much between objects
    #: of a class (0.012 against 0.03-0.1), hence 0.015: scaled, not measured on real weights.
    word_margin: float = 0.015
    #: ... and only when the other keeps at most this share of what dropping the word costs
    #: the best (1: any gap of word_margin). A word true of both ("hexagon" for two hexagons,
    #: one half hidden) costs both, if unequally; a word true of one costs the other nothing.
    word_share: float = 0.4


@dataclass
class Candidate:
    """One of the objects that fit nearly equally well."""

    index: int
    box: list[int]
    centroid: list[float]
    probability: float


@dataclass
class Selection:
    """The chosen proposal, how sure, and what to ask or say when it is not clear."""

    index: int | None
    status: str  # 'ok' | 'ambiguous' | 'no_match'
    probabilities: np.ndarray
    candidates: list[Candidate] = field(default_factory=list)
    anchors: dict[str, list[int]] = field(default_factory=dict)
    question: str = ''
    message: str = ''


def select(reading: Reading, masks: np.ndarray, scores: dict[str, np.ndarray],
           depth_m: np.ndarray | None = None, settings: SpatialSettings | None = None,
           background: np.ndarray | None = None) -> Selection:
    """
    Pick the proposal `reading` refers to among N masks (N, H, W) with CLIP scores per phrase.

    `scores` holds one cosine per proposal for reading.target and for every anchor phrase;
    `depth_m` is an aligned depth image in metres (NaN or 0 where invalid), or None; it is
    only read when a word needs it (nearest, farthest, in front of, behind). `background`
    holds each proposal's best cosine with a background prompt, or None (no such check).
    """
    settings = settings or SpatialSettings()
    masks = np.asarray(masks, bool)
    if len(masks) == 0:
        return Selection(None, 'no_match', np.zeros(0), message='no mask proposals')
    notes: list[str] = []
    if depth_m is not None and np.shape(depth_m) != masks.shape[1:]:
        notes.append('depth image does not match the masks: image rows stand in for depth')
        depth_m = None
    if not _uses_depth(reading):
        depth_m = None
    scene = _Scene(measure(masks, depth_m, settings.depth_unit), scores, settings, notes,
                   background)
    if not scene.alive.any():
        return Selection(None, 'no_match', np.zeros(len(masks)), message='every mask is empty')
    if reading.target not in scores:
        raise ValueError(f'no scores for the target {reading.target!r}')
    judged = scene.distribution(reading, settings.target_temperature, 0)
    return scene.decide(reading, judged)


@dataclass
class _Judged:
    """A distribution over proposals and, for each constraint, its support per proposal."""

    prior: np.ndarray
    p: np.ndarray
    supports: list[tuple[str, np.ndarray]]
    failures: list[str]
    anchors: list[tuple[str, np.ndarray]]
    candidates: np.ndarray | None = None


class _Scene:
    """One call of select(): the layout, the scores, and what was noticed on the way."""

    def __init__(self, layout: Layout, scores: dict[str, np.ndarray],
                 settings: SpatialSettings, notes: list[str],
                 background: np.ndarray | None = None) -> None:
        self.layout = layout
        self.scores = scores
        self.background = background
        self.settings = settings
        self.notes = notes
        self.anchor_boxes: dict[str, list[int]] = {}
        self.alive = layout.areas > 0
        self.same = _duplicates(layout, settings)
        self.owners = _owners(layout, self.same, settings)
        self.nested = _nested(layout, settings)
        self.others = ~self.same & ~np.eye(layout.count, dtype=bool)
        self._relations: dict[str, np.ndarray] = {}

    def distribution(self, reading: Reading, temperature: float, depth: int) -> _Judged:
        """P(proposal | reading): prior from CLIP, times relations, then positions."""
        s = self.settings
        prior = self.prior(reading.target, temperature)
        judged = _Judged(prior, prior, [], [], [])
        log_p = np.log(prior + EPS)
        later = []
        for rel in reading.relations:
            if depth >= s.max_anchor_depth:
                self._note(f'anchors nested deeper than {s.max_anchor_depth} are ignored')
                break
            if rel.kind in SUPERLATIVE_RELATIONS:
                later.append(rel)
                continue
            support = self.relation_support(rel, depth, judged)
            if support is not None:
                judged.supports.append((_describe(rel), support))
                log_p += s.relation_weight * np.log(support + EPS)
        for phrase in reading.negations:
            support = self._is_not(phrase, reading.target)
            judged.supports.append((f'other than {phrase}', support))
            log_p += s.relation_weight * np.log(support + EPS)
        p_rel = self._normalise(log_p, prior > 0)
        probable = p_rel >= s.candidate_ratio * p_rel.max()
        probable |= _above_gap(p_rel, s.candidate_window)
        if reading.names_no_kind:
            probable |= self._beats_background(reading.target)
        candidates = _kept(p_rel, self.same | self.nested, probable)
        candidates |= self._most_probable(p_rel, _presupposed_count(reading))
        judged.candidates = candidates
        for term in self._superlatives(reading, later, candidates, depth, judged):
            log_p += s.position_weight * np.log(term + EPS)
        judged.p = self._normalise(log_p, prior > 0)
        return judged

    def _is_not(self, phrase: str, target: str) -> np.ndarray:
        """
        P(proposal is not what `phrase` says), from CLIP choosing between it and the target.

        CLIP reads "the cup that is not red" much like "the red cup"; asked instead whether a
        cup looks more like "red cup" than like "the cup", it answers well.
        """
        t = max(self.settings.negation_temperature, 1e-9)
        margin = _finite(self.scores[phrase]) - _finite(self.scores[target])
        return sigmoid(-margin / t)

    def _most_probable(self, p: np.ndarray, count: int) -> np.ndarray:
        """
        Mark the `count` most probable objects, one mask per object.

        "The third cup" says there are at least three cups: when fewer look probable, the
        likeliest others count too, rather than answering that there is no third.
        """
        objects = np.flatnonzero(_kept(p, self.same | self.nested, p > 0))
        top = np.zeros(len(p), bool)
        top[objects[np.argsort(-p[objects], kind='stable')][:count]] = True
        return top

    def prior(self, phrase: str, temperature: float) -> np.ndarray:
        """
        Softmax of the phrase's cosines over objects, one mask per object.

        An object scores as its best-looking mask (a part may look more like a 'thing' than
        the whole) but answers with its outermost one unless a part is clearly better: summing
        the masks would favour objects cut in pieces, and pieces are no answer.
        """
        cosines = _finite(self.scores[phrase])
        temperature = max(temperature, 1e-9)
        if self.background is not None:
            cosines = cosines + temperature * self._foreground_log_p(cosines)
        cosines = np.where(self.alive, cosines, -np.inf)
        logits = np.full(len(cosines), -np.inf)
        for root in np.unique(self.owners[self.alive]):
            members = np.flatnonzero((self.owners == root) & self.alive)
            best = members[np.argmax(cosines[members])]
            clearly = cosines[best] - cosines[root] > self.settings.part_margin * temperature
            logits[best if clearly else root] = cosines[best] / temperature
        p = np.exp(logits - logits.max())
        return p / p.sum()

    def _beats_background(self, phrase: str) -> np.ndarray:
        """Whether each proposal looks more like the phrase than like any background prompt."""
        if self.background is None:
            return np.zeros(self.layout.count, bool)
        return self._background_margin(_finite(self.scores[phrase])) > 0

    def _foreground_log_p(self, cosines: np.ndarray) -> np.ndarray:
        """Give log P(the phrase, not the background) per proposal: CLIP's own zero-shot."""
        t = max(self.settings.background_temperature, 1e-9)
        return -np.logaddexp(0.0, -self._background_margin(cosines) / t)

    def _background_margin(self, cosines: np.ndarray) -> np.ndarray:
        """How much more each proposal looks like the phrase than like the background."""
        return cosines - _finite(self.background)

    def relation_support(self, rel: Relation, depth: int, judged: _Judged) -> np.ndarray | None:
        """R_i = sum_j p_anchor(j) R(i, j), never counting i (or a copy of i) as its anchor."""
        anchors = [self._anchor(a, depth) for a in rel.anchors]
        if any(a is None for a in anchors) or not anchors:
            return None
        judged.anchors += [(a.target, p) for a, p in zip(rel.anchors, anchors)]
        if rel.kind == 'between':
            if len(anchors) < 2:
                self._note('between needs two anchors: ignored')
                return None
            return self._between(anchors[0], anchors[1])
        if rel.kind not in self._relations:
            self._relations[rel.kind] = relation(self.layout, rel.kind, self.settings.softness)
        holds = self._relations[rel.kind] * self.others
        if rel.kind == 'next_to':
            holds = self._nearest_is_next_to(holds, judged.prior)
        return holds @ anchors[0]

    def _nearest_is_next_to(self, near: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """
        Scale near[i, j] so that anchor j's nearest probable target is next to it.

        "The cup next to the plate" is said of the cup nearest the plate even when it stands
        a few sizes away; other targets keep their closeness relative to it, so a second cup
        as close stays as likely (and is asked about) and a farther one drops out.
        """
        probable = prior >= self.settings.candidate_ratio * prior.max()
        nearest = (near * probable[:, None]).max(axis=0)
        return np.minimum(near / np.maximum(nearest, EPS)[None, :], 1.0)

    def decide(self, reading: Reading, judged: _Judged) -> Selection:
        """Turn the final distribution into a status, candidates and a question."""
        s, p = self.settings, judged.p
        order = np.argsort(-p, kind='stable')
        best = int(order[0])
        rivals = [int(i) for i in order[:3] if p[i] > 0 and p[i] >= s.ambiguity_ratio * p[best]]
        self._check_contradictions(reading)
        if self.alive.sum() == 1 and reading.is_spatial:
            self._note('a single proposal: nothing to compare it with')
        for phrase, p_anchor in judged.anchors:
            if p_anchor[self.same[best] | (np.arange(len(p)) == best)].sum() > 0.5:
                self._note(f'{phrase!r} matches nothing but the chosen object itself')
        failed = judged.failures + [f'nothing is {label} (support {support[best]:.2f})'
                                    for label, support in judged.supports
                                    if support[best] < s.min_support]
        if (judged.prior[best] < s.candidate_ratio * judged.prior.max()
                and not judged.candidates[best]):
            failed.append(f'what fits best does not look like {reading.target!r}')
        selection = Selection(best, 'ok', p, anchors=dict(self.anchor_boxes))
        if failed:
            selection.index, selection.status = None, 'no_match'
            self.notes[:0] = failed
        elif len(rivals) > 1:
            selection.status = 'ambiguous'
            selection.candidates = [self._candidate(i, p) for i in rivals]
            selection.question = question(reading.target, self.layout, rivals)
        selection.message = '; '.join(self.notes)
        return selection

    def _anchor(self, anchor: Reading, depth: int) -> np.ndarray | None:
        if anchor.target not in self.scores:
            self._note(f'no scores for anchor {anchor.target!r}: relation ignored')
            return None
        p = self.distribution(anchor, self.settings.anchor_temperature, depth + 1).p
        self.anchor_boxes.setdefault(anchor.target, _box(self.layout, int(np.argmax(p))))
        return p

    def _between(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        a = np.argsort(-first)[:BETWEEN_TOP]
        b = np.argsort(-second)[:BETWEEN_TOP]
        weights = first[a][:, None] * second[b][None, :] * self.others[a][:, b]
        inside = between(self.layout, a, b, self.settings.softness, self.settings.between_spread)
        valid = self.others[:, a][:, :, None] * self.others[:, b][:, None, :]
        return (inside * valid * weights).sum(axis=(1, 2)) / max(weights.sum(), EPS)

    def _superlatives(self, reading: Reading, later: list[Relation], candidates: np.ndarray,
                      depth: int, judged: _Judged) -> list[np.ndarray]:
        """
        Positions, the ordinal and closest_to/farthest_from, among the probable targets.

        The candidates are the probable targets after the relations, one mask per object
        (the best) where masks nest: "the left cup on the tray" is the left one of the cups
        on the tray.
        """
        terms = [self._middle(candidates) if pos == 'middle'
                 else self._extreme(self.layout.toward(pos), candidates)
                 for pos in reading.positions]
        if reading.ordinal is not None:
            terms.append(self._ordinal(reading, candidates, judged))
        if reading.size is not None:
            clearly = np.log2(max(self.settings.size_ratio, 1.0))
            ahead = self.layout.toward(SIZE_EXTREMES[reading.size])
            terms.append(self._extreme(ahead - clearly, candidates))
        for rel in later:
            p_anchor = self._anchor(rel.anchors[0], depth) if rel.anchors else None
            if p_anchor is not None:
                judged.anchors.append((rel.anchors[0].target, p_anchor))
                terms.append(self._extreme(self._distance_ahead(rel.kind, p_anchor), candidates))
        return terms

    def _extreme(self, ahead: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """P(no other probable target lies beyond i): a product over the candidates k."""
        beyond = sigmoid(ahead / self.settings.softness) * candidates[:, None] * self.others
        return np.exp(np.log1p(-np.minimum(beyond, 1.0 - EPS)).sum(axis=0))

    def _ordinal(self, reading: Reading, candidates: np.ndarray, judged: _Judged) -> np.ndarray:
        """P(exactly rank-1 probable targets lie before i along the axis): Poisson-binomial."""
        rank, axis = reading.ordinal.rank, reading.ordinal.axis
        if rank < 0:
            rank, axis = -rank, _opposite(axis)
        rank = max(rank, 1)
        if rank > candidates.sum():
            judged.failures.append(f'only {int(candidates.sum())} probable {reading.target} '
                                   f'for rank {rank}')
        before = (sigmoid(self.layout.toward(axis) / self.settings.softness)
                  * candidates[:, None] * self.others)
        counts = np.zeros((self.layout.count, rank))
        counts[:, 0] = 1.0
        for k in np.flatnonzero(candidates):
            step = before[k][:, None]
            counts = counts * (1 - step) + np.pad(counts[:, :-1], ((0, 0), (1, 0))) * step
        return counts[:, rank - 1]

    def _middle(self, candidates: np.ndarray) -> np.ndarray:
        """Near the centre of the probable targets' span (of the image when there is one)."""
        c = self.layout.centroids
        if candidates.sum() < 2:
            centre = np.array(self.layout.image_size, float) / 2
        else:
            centre = (c[candidates].min(axis=0) + c[candidates].max(axis=0)) / 2
        size = self.layout.sizes()[candidates].mean()
        offset = np.nan_to_num(np.linalg.norm(c - centre, axis=1) / size, nan=np.inf)
        return np.exp(-0.5 * (offset / (2 * self.settings.softness)) ** 2)

    def _distance_ahead(self, kind: str, p_anchor: np.ndarray) -> np.ndarray:
        """ahead[k, i] > 0 when k is closer to (farther from) the anchor than i, in sizes."""
        weights = self.others * p_anchor[None, :]
        distance = np.minimum(centre_distances(self.layout), 1e9)
        expected = (distance * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), EPS)
        sizes = self.layout.sizes()
        closer = (expected[None, :] - expected[:, None]) / ((sizes[:, None] + sizes[None, :]) / 2)
        return closer if kind == 'closest_to' else -closer

    def _normalise(self, log_p: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        log_p = np.where(allowed, log_p, -np.inf)
        p = np.exp(log_p - log_p.max())
        return p / p.sum()

    def _check_contradictions(self, reading: Reading) -> None:
        for first, second in CONTRADICTIONS:
            if first in reading.positions and second in reading.positions:
                self._note(f'{first!r} and {second!r} contradict each other')

    def _candidate(self, index: int, p: np.ndarray) -> Candidate:
        u, v = self.layout.centroids[index]
        return Candidate(index, _box(self.layout, index), [float(u), float(v)], float(p[index]))

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def tell_apart(selection: Selection, word_effects: np.ndarray,
               settings: SpatialSettings) -> Selection:
    """
    Drop the candidates that a word of the description separates from the chosen one.

    `word_effects[w, i]` is how much proposal i's cosine drops when word w is left out of the
    description. Noise that makes one of two alike objects score lower (it is half hidden)
    lowers every wording alike; a word that holds for one and not the other lowers only the
    wordings that keep it. The answer stays the same proposal; the question goes when every
    rival is told apart.
    """
    if selection.status != 'ambiguous' or settings.word_margin <= 0 or not len(word_effects):
        return selection
    best = word_effects[:, selection.index]
    separated = [((best - rival >= settings.word_margin)
                  & (rival <= settings.word_share * best)).any()
                 for rival in (word_effects[:, c.index] for c in selection.candidates
                               if c.index != selection.index)]
    if not all(separated):
        return selection
    return replace(selection, status='ok', candidates=[], question='')


def _duplicates(layout: Layout, s: SpatialSettings) -> np.ndarray:
    """Pairs of masks that are one object: near-equal, or one nearly inside a similar one."""
    areas = np.maximum(layout.areas, 1.0)
    ratio = np.minimum(areas[:, None], areas[None, :]) / np.maximum(areas[:, None], areas[None, :])
    nested = (layout.inside >= s.duplicate_inside) & (ratio >= s.duplicate_area_ratio)
    same = (layout.iou >= s.duplicate_iou) | nested | nested.T
    np.fill_diagonal(same, False)
    return same


def _owners(layout: Layout, same: np.ndarray, s: SpatialSettings) -> np.ndarray:
    """
    Map each mask to the outermost mask of its object (itself when it is no part).

    A mask belongs to a larger one when they are duplicates, or when it is a small piece in
    the larger one's box near its centroid. Larger means more pixels (then the lower index),
    so following owners ends at a root.
    """
    order = np.lexsort((-np.arange(layout.count), layout.areas))
    rank = np.empty(layout.count, int)
    rank[order] = np.arange(layout.count)
    areas = np.maximum(layout.areas, 1.0)
    offsets = centre_distances(layout) / layout.sizes()[None, :]
    part = ((box_inside(layout.boxes) >= s.duplicate_inside)
            & (areas[:, None] <= s.part_area_ratio * areas[None, :])
            & (offsets <= s.part_offset))
    links = (same | part) & (rank[None, :] > rank[:, None])
    owners = np.where(links, rank[None, :], -1).argmax(axis=1)
    owners = np.where(links.any(axis=1), owners, np.arange(layout.count))
    while not np.array_equal(owners[owners], owners):
        owners = owners[owners]
    return owners


def _nested(layout: Layout, s: SpatialSettings) -> np.ndarray:
    """
    Pairs where one mask lies inside the other: one object when counting targets.

    A part SAM cut out of a cup (its handle, its top) is no second cup for 'the second cup'
    or 'the leftmost cup'; relations still tell a cup from the plate whose outline holds it.
    """
    nested = layout.inside >= s.duplicate_inside
    nested = nested | nested.T
    np.fill_diagonal(nested, False)
    return nested


def _kept(scores: np.ndarray, same: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Keep the best-scoring mask of each object (greedy non-maximum suppression)."""
    kept = np.zeros(len(scores), bool)
    for i in np.argsort(-scores, kind='stable'):
        kept[i] = alive[i] and not (kept & same[i]).any()
    return kept


def _above_gap(p: np.ndarray, window: float) -> np.ndarray:
    """Objects above the widest drop in log-probability within `window` nats of the best."""
    if window <= 0:
        return np.zeros(len(p), bool)
    log_p = np.log(np.maximum(p, 1e-300))
    top = log_p.max()
    values = np.sort(log_p[(p > 0) & (log_p >= top - window)])[::-1]
    steps = np.diff(np.append(values, top - window))
    return log_p >= values[int(np.argmin(steps))]


def _presupposed_count(reading: Reading) -> int:
    """How many targets the words take for granted: 'the third cup' three, 'the left' two."""
    counts = [3 if position == 'middle' else 2 for position in reading.positions]
    if reading.ordinal is not None:
        counts.append(max(abs(reading.ordinal.rank), 2))
    return max(counts, default=1)


def _finite(cosines: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(cosines, float), nan=-1.0, posinf=1.0, neginf=-1.0)


def _uses_depth(reading: Reading) -> bool:
    """Whether any word of the reading needs depth (its medians are the costliest geometry)."""
    words = {'nearest', 'farthest', 'in_front_of', 'behind'}
    axis = reading.ordinal.axis if reading.ordinal else None
    return (bool(words & {*reading.positions, axis, *(r.kind for r in reading.relations)})
            or any(_uses_depth(a) for r in reading.relations for a in r.anchors))


def _box(layout: Layout, index: int) -> list[int]:
    return [int(x) for x in layout.boxes[index]]


def _opposite(axis: str) -> str:
    pairs = dict(CONTRADICTIONS)
    pairs.update({b: a for a, b in CONTRADICTIONS})
    return pairs[axis]


def _describe(rel: Relation) -> str:
    words = RELATION_WORDS.get(rel.kind, rel.kind.replace('_', ' '))
    return f'{words} {" and ".join(a.target for a in rel.anchors)}'


#: How two candidates can differ, with words for the ends (and middle) of each axis.
QUESTION_AXES = {
    'left': ('further left', 'in the middle', 'further right'),
    'top': ('higher up', 'in the middle', 'lower down'),
    'nearest': ('closer to me', 'in between', 'farther away'),
    'biggest': ('bigger', 'middle-sized', 'smaller'),
}


def question(target: str, layout: Layout, indices: list[int]) -> str:
    """
    Ask which of the candidates was meant, by the axis along which they differ most.

    "Do you mean the red mug further left or the one further right?"
    """
    name = re.sub(r'^(the|a|an)\s+', '', target.strip(), flags=re.IGNORECASE) or 'object'
    idx = np.array(indices)
    spreads = {axis: np.abs(layout.toward(axis)[np.ix_(idx, idx)]).max() for axis in QUESTION_AXES}
    axis = max(spreads, key=spreads.get)
    if spreads[axis] <= 0:
        return f'Which {name} do you mean? {len(indices)} fit equally well.'
    words = QUESTION_AXES[axis]
    labels = [words[0], words[2]] if len(indices) == 2 else list(words)
    if axis == 'biggest':
        parts = [f'the {labels[0]} {name}'] + [f'the {label} one' for label in labels[1:]]
    else:
        parts = [f'the {name} {labels[0]}'] + [f'the one {label}' for label in labels[1:]]
    return f'Do you mean {", ".join(parts[:-1])} or {parts[-1]}?'
