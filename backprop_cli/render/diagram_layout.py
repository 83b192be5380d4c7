"""Where the weight labels of a network picture go: plain geometry, no TikZ.

A label is a box (centre, width, height in cm) on its own edge. It is placed so that
it overlaps no other label, no node, no other edge and no point where two edges cross,
trying spots along its edge nearest the source first (where a reader looks for a
weight); when some edge has no free spot the layout fails and the caller draws the
weights in a table beside the picture instead. tests/test_diagrams.py checks the
result from the emitted TikZ coordinates, with geometry of its own.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..frozen import frozen

Point = tuple[float, float]

GAP = 0.05  # cm kept clear around a label
# spots along an edge (fraction from the source), nearest the source first
SPOTS = tuple(round(0.18 + 0.03 * k, 2) for k in range(22))


@frozen
class Box:
    """An axis-aligned box by its centre and size (cm)."""

    x: float
    y: float
    w: float
    h: float

    def overlaps(self, other: "Box", gap: float = GAP) -> bool:
        return (abs(self.x - other.x) < (self.w + other.w) / 2 + gap and
                abs(self.y - other.y) < (self.h + other.h) / 2 + gap)

    def contains(self, p: Point, gap: float = GAP) -> bool:
        return abs(p[0] - self.x) <= self.w / 2 + gap and abs(p[1] - self.y) <= self.h / 2 + gap

    def hits_circle(self, c: Point, r: float) -> bool:
        nx = min(max(c[0], self.x - self.w / 2), self.x + self.w / 2)
        ny = min(max(c[1], self.y - self.h / 2), self.y + self.h / 2)
        return (nx - c[0]) ** 2 + (ny - c[1]) ** 2 < r * r

    def hits_segment(self, a: Point, b: Point, gap: float = GAP) -> bool:
        """Does the segment a–b pass through the box grown by `gap` (Liang–Barsky)?"""
        x0, x1 = self.x - self.w / 2 - gap, self.x + self.w / 2 + gap
        y0, y1 = self.y - self.h / 2 - gap, self.y + self.h / 2 + gap
        dx, dy = b[0] - a[0], b[1] - a[1]
        lo, hi = 0.0, 1.0
        for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
            if p == 0:
                if q < 0:
                    return False
                continue
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            if lo > hi:
                return False
        return True


@frozen
class Segment:
    """An edge from centre a to centre b, labelled with a box of size w × h."""

    a: Point
    b: Point
    w: float
    h: float

    def at(self, t: float) -> Point:
        return (self.a[0] + t * (self.b[0] - self.a[0]), self.a[1] + t * (self.b[1] - self.a[1]))


def crossing(s: Segment, u: Segment) -> Optional[Point]:
    """Where two edges cross strictly inside both (edges that share an end do not)."""
    if s.a in (u.a, u.b) or s.b in (u.a, u.b):
        return None
    d = (s.b[0] - s.a[0]) * (u.b[1] - u.a[1]) - (s.b[1] - s.a[1]) * (u.b[0] - u.a[0])
    if abs(d) < 1e-12:
        return None
    ex, ey = u.a[0] - s.a[0], u.a[1] - s.a[1]
    t = (ex * (u.b[1] - u.a[1]) - ey * (u.b[0] - u.a[0])) / d
    v = (ex * (s.b[1] - s.a[1]) - ey * (s.b[0] - s.a[0])) / d
    if 1e-9 < t < 1 - 1e-9 and 1e-9 < v < 1 - 1e-9:
        return s.at(t)
    return None


def crossings(segments: Sequence[Segment]) -> list[Point]:
    out = []
    for i, s in enumerate(segments):
        for u in segments[i + 1:]:
            p = crossing(s, u)
            if p is not None:
                out.append(p)
    return out


def place(segments: Sequence[Segment], circles: Sequence[tuple[Point, float]],
          fixed: Sequence[Box] = (), lines: Sequence[tuple[Point, Point]] = ()) -> Optional[list[Box]]:
    """A box on each segment clear of every other box (placed or `fixed`), circle,
    segment, unlabelled line and crossing; None when some segment has no such spot."""
    points = crossings(segments)
    placed: list[Box] = []
    for k, s in enumerate(segments):
        others = [u for j, u in enumerate(segments) if j != k]
        for t in SPOTS:
            x, y = s.at(t)
            box = Box(x, y, s.w, s.h)
            if any(box.overlaps(b) for b in placed) or any(box.overlaps(b) for b in fixed):
                continue
            if any(box.hits_circle(c, r + GAP) for c, r in circles):
                continue
            if any(box.contains(p) for p in points):
                continue
            if any(box.hits_segment(u.a, u.b) for u in others) or any(box.hits_segment(a, b) for a, b in lines):
                continue
            placed.append(box)
            break
        else:
            return None
    return placed


def clear(box: Box, segments: Sequence[Segment], circles: Sequence[tuple[Point, float]],
          lines: Sequence[tuple[Point, Point]] = ()) -> bool:
    """A fixed label (a bias's) touches no edge, node or line."""
    return not (any(box.hits_segment(s.a, s.b) for s in segments) or any(box.hits_segment(a, b) for a, b in lines)
                or any(box.hits_circle(c, r + GAP) for c, r in circles))
