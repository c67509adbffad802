"""moeid: identifiability of mixture-of-experts gate designs, from Python.

A thin layer over the Rust library (every analysis runs there): read or build a case, verify it,
run its rate check, write report pages.

    >>> import moeid
    >>> case = moeid.Case.from_toml("cases/softmax-2503.03213/linear.toml")
    >>> v = moeid.verify(case)
    >>> v.verdict
    'interaction'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _moeid
from ._moeid import Case, CaseBuilder, CaseError, MoeidError, RatesError

__version__ = _moeid.__version__

__all__ = [
    "Case",
    "CaseBuilder",
    "CaseError",
    "MoeidError",
    "RatesError",
    "Verdict",
    "Relation",
    "Family",
    "Cell",
    "Prediction",
    "RateResult",
    "verify",
    "rates",
    "report",
]


def _sympify(text: Optional[str]):
    if text is None:
        return None
    import sympy  # optional dependency: pip install moeid[sympy]

    return sympy.sympify(text)


@dataclass(frozen=True)
class Family:
    """The derivative family of one atom (or the joint family) up to one order."""

    atom: Union[int, str]
    order: int
    terms: int
    rank: int
    sigma_max: float
    sigma_min_kept: float
    gap_decades: float
    clear: bool
    certificate: str
    singular_values: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Relation:
    """A PDE relation among the derivative terms: its class, whether it is structural, its exact
    text (or decimal text), a sympy-parsable form and the exact coefficients."""

    cls: str
    structural: Optional[bool]
    atoms: List[int]
    text: str
    sympy_text: Optional[str]
    exact: bool
    coefficients: List[Dict[str, Any]]
    certificate: str
    identifiable_combinations: List[str]

    def sympy(self):
        """The relation as a sympy `Eq` (needs sympy)."""
        return _sympify(self.sympy_text)


@dataclass(frozen=True)
class Prediction:
    """The predicted rate for cells of size m: its text and the exponent s of every parameter
    (the parameter converges like n^(-1/(2 s)))."""

    m: int
    rate: str
    exponents: Dict[str, float]


@dataclass(frozen=True)
class Cell:
    """The local geometry of one Voronoi cell: true atom, size m, outcome and exponents."""

    atom: int
    m: int
    outcome: str
    exponents: Optional[Dict[str, float]]
    r_bar: Optional[float]
    flat: List[str]
    text: str


def _relation(r: Dict[str, Any]) -> Relation:
    exact = r.get("exact")
    verified = bool(exact and exact.get("verified"))
    return Relation(
        cls=r["class"],
        structural=r["structural"],
        atoms=list(r["atoms"]),
        text=exact["text"] if verified else r["numeric_text"],
        sympy_text=r.get("sympy"),
        exact=verified,
        coefficients=list(exact["coefficients"]) if verified else [],
        certificate=r["certificate"],
        identifiable_combinations=list(exact["identifiable_combinations"]) if verified else [],
    )


class Verdict:
    """What `verify` found for one case. Attributes: `verdict`, `certificate`, `reason`,
    `order`, `seed`, `relations`, `families`, `predicted` (per cell size), `cells`,
    `warnings`, `notes`, `fixed` (the distinguishability test of a `[fixed]` component as a
    dict, or None); `json` holds everything `moeid verify --format json` prints."""

    def __init__(self, inner: "_moeid.Verification"):
        self._inner = inner
        self.json: Dict[str, Any] = json.loads(inner.json())
        j = self.json
        self.case: str = j["case"]
        self.verdict: str = j["verdict"]
        self.certificate: str = j["certificate"]
        self.reason: str = j["reason"]
        self.order: int = j["order"]
        self.seed: int = j["seed"]
        self.variables: List[str] = list(j["variables"])
        self.relations: List[Relation] = [_relation(r) for r in j["relations"]]
        self.families: List[Family] = [
            Family(
                atom=f["atom"],
                order=f["order"],
                terms=f["terms"],
                rank=f["rank"],
                sigma_max=f["sigma_max"],
                sigma_min_kept=f["sigma_min_kept"],
                gap_decades=f["gap_decades"],
                clear=f["clear"],
                certificate=f["certificate"],
                singular_values=np.asarray(f["singular_values"], dtype=float),
            )
            for f in j["families"]
        ]
        p = j["predicted"]
        self.predicted_exact: str = p["exact"]
        self.predicted_over: str = p["over"]
        self.predicted: List[Prediction] = [
            Prediction(m=b["m"], rate=b["rate"], exponents=dict(b["exponents"])) for b in p["by_size"]
        ]
        self.cells: List[Cell] = [
            Cell(
                atom=c["atom"],
                m=c["m"],
                outcome=c["outcome"],
                exponents=c["exponents"],
                r_bar=c["r_bar"],
                flat=list(c["flat"]),
                text=c["text"],
            )
            for c in j["cells"]
        ]
        self.warnings: List[str] = list(j["warnings"])
        self.notes: List[str] = list(j["notes"])
        self.fixed: Optional[Dict[str, Any]] = j.get("fixed")

    def summary(self) -> str:
        """The stable summary that users' CI snapshots hold."""
        return self._inner.summary()

    def __str__(self) -> str:
        return self._inner.text()

    def __repr__(self) -> str:
        return f"<Verdict {self.case}: {self.verdict} ({self.certificate}), {len(self.relations)} relations>"

    def _repr_markdown_(self) -> str:
        return self._inner.markdown()

    def _repr_html_(self) -> str:
        return self._inner.html()


class RateResult:
    """A rate check: per fitted size k, the measured loss slopes beside the predicted ones and
    the decision (`agrees`, `disagrees`, `inconclusive`, `consistent`)."""

    def __init__(self, inner: "_moeid.RateCheck"):
        self._inner = inner
        self.json: Dict[str, Any] = json.loads(inner.json())
        self.case: str = self.json["case"]
        self.settings: Dict[str, Any] = self.json["settings"]
        self.rows: List[Dict[str, Any]] = list(self.json["rows"])
        self.verification_error: Optional[str] = inner.verification_error()

    def to_pandas(self):
        """One row per fitted size k (needs pandas): the scalar fields of each row; nested
        fields (per-size points, parameter groups) stay as Python objects."""
        import pandas as pd  # optional dependency: pip install moeid[pandas]

        return pd.DataFrame(self.rows)

    def __str__(self) -> str:
        return self._inner.text()

    def __repr__(self) -> str:
        return f"<RateResult {self.case}: {len(self.rows)} fitted sizes>"

    def _repr_markdown_(self) -> Optional[str]:
        return self._inner.markdown()


def verify(
    case: Case,
    order: Optional[int] = None,
    certify: bool = False,
    seed: Optional[int] = None,
    cells: Optional[int] = None,
) -> Verdict:
    """Verify `case`: ranks of the derivative families, relations, verdict, the local geometry
    of cells up to size `cells` (default 3) and the predicted rates. `order` and `seed` default
    to the case's `[verify]` settings."""
    return Verdict(_moeid.verify(case, order=order, certify=certify, seed=seed, cells=cells))


def rates(
    case: Case,
    fitted: Optional[Sequence[int]] = None,
    n: Optional[Sequence[int]] = None,
    replicates: Optional[int] = None,
    restarts: Optional[int] = None,
    seed: Optional[int] = None,
    out: Optional[Union[str, os.PathLike]] = None,
) -> RateResult:
    """Run the rate check of `case` (what `moeid rates` runs): fits at each sample size in `n`
    for each fitted number of atoms in `fitted`; `out` is a checkpoint to resume and append to."""
    return RateResult(
        _moeid.rates(
            case,
            fitted=list(fitted) if fitted is not None else None,
            n=[int(x) for x in n] if n is not None else None,
            replicates=replicates,
            restarts=restarts,
            seed=seed,
            out=os.fspath(out) if out is not None else None,
        )
    )


def report(verdicts: Union[Verdict, Sequence[Verdict]], out: Union[str, os.PathLike]) -> str:
    """Write a report page with plots for each verdict into folder `out`, with an index
    README.md; returns the index's path."""
    if isinstance(verdicts, Verdict):
        verdicts = [verdicts]
    return os.fspath(_moeid.report([v._inner for v in verdicts], os.fspath(out)))
