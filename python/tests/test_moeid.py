"""The Python package against the Rust library: a verdict, the builder, errors, the sympy form of
every relation in the catalogue, the notebook reprs, a small rate check and report pages."""

import json
import pathlib
import re
import subprocess

import numpy as np
import pytest
import sympy

import moeid

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "cases"
LINEAR = CASES / "softmax-2503.03213" / "linear.toml"


def test_a_verdict_with_typed_attributes():
    v = moeid.verify(moeid.Case.from_toml(str(LINEAR)))
    assert v.verdict == "interaction"
    assert v.certificate in ("certified", "numerical")
    assert v.relations and all(isinstance(r.text, str) and r.text for r in v.relations)
    fam = v.families[0]
    assert isinstance(fam.singular_values, np.ndarray)
    assert fam.singular_values.shape == (fam.terms,)
    assert np.all(np.diff(fam.singular_values) <= 0), "largest first"
    # predicted exponents are numbers, per cell size
    assert v.predicted and all(isinstance(s, float) for p in v.predicted for s in p.exponents.values())
    assert v.predicted[0].m == 1


def test_the_same_json_as_the_command_line(tmp_path):
    v = moeid.verify(moeid.Case.from_toml(LINEAR))  # a PathLike works too
    cli = subprocess.run(
        ["cargo", "run", "--release", "--quiet", "--", "verify", str(LINEAR), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(cli.stdout) == v.json


def test_from_text_and_the_builder_agree():
    text = LINEAR.read_text()
    from_text = moeid.verify(moeid.Case.from_toml(text))
    built = (
        moeid.CaseBuilder("softmax-linear", "regression")
        .gate("exp(dot(beta1, x) + beta0)", True)
        .mean("dot(a, x) + b")
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b")
        .atom({"beta1": [2.0], "beta0": 0.5, "a": [1.5], "b": -0.5})
        .atom({"beta1": [-1.0], "beta0": 0.0, "a": [-2.0], "b": 0.3})
        .build()
    )
    assert built.variables == ["beta1[0]", "beta0", "a[0]", "b"]
    assert moeid.verify(built).verdict == "interaction"
    assert from_text.verdict == "interaction"


def test_a_fixed_component_from_the_builder_and_its_distinguishability():
    case_file = ROOT / "cases" / "contaminated-2505.18455" / "linear-overlap.toml"
    from_file = moeid.verify(moeid.Case.from_toml(case_file))
    built = moeid.verify(
        moeid.CaseBuilder("contaminated", "regression")
        .gate("exp(dot(beta1, x) + beta0)", True)
        .mean("dot(a, x) + b")
        .fixed(mean="0.3 * x[0] - 0.2")
        .vector("beta1", 1)
        .mass("beta0")
        .vector("a", 1)
        .scalar("b")
        .atom({"beta1": [0.0], "beta0": 0.0, "a": [-1.5], "b": 0.5})
        .build()
    )
    for v in (from_file, built):
        assert v.verdict == "degenerate"
        assert v.fixed is not None and v.fixed["distinguishable"] is False
        assert v.fixed["rank_with"] == v.fixed["rank_without"]
    assert moeid.verify(moeid.Case.from_toml(LINEAR)).fixed is None


def test_a_fixed_share_outside_the_gate_from_the_builder():
    case_file = CASES / "deviated-2402.05220" / "gaussian-proportion-constant-gate.toml"
    from_file = moeid.verify(moeid.Case.from_toml(case_file))

    def built(**fixed):
        return (
            moeid.CaseBuilder("deviated", "gaussian")
            .gate("exp(dot(beta1, x) + beta0)", True)
            .mean("dot(a, x) + b")
            .variance("nu")
            .fixed(mean="2 * x[0] - 0.5", variance="0.5", **fixed)
            .vector("beta1", 1)
            .mass("beta0")
            .vector("a", 1)
            .scalar("b")
            .scalar("nu")
            .atom({"beta1": [1.0], "beta0": 0.0, "a": [-1.0], "b": 0.5, "nu": 0.3})
            .atom({"beta1": [1.0], "beta0": -0.5, "a": [2.0], "b": -0.5, "nu": 0.5})
            .build()
        )

    v = moeid.verify(built(proportion=0.3))
    for w in (from_file, v):
        assert w.verdict == "degenerate"
        assert w.fixed["proportion"] == 0.3
        assert w.fixed["first_order"]["distinguishable"] is False
    with pytest.raises(ValueError, match="cannot be used together"):
        built(proportion=0.3, weight="1")
    with pytest.raises(moeid.CaseError, match=r"(?s)fixed.proportion.*is 1.5"):
        built(proportion=1.5)


def test_a_top_k_gate_from_the_builder_and_its_validation():
    case_file = CASES / "topk-2309.13850" / "gaussian-top2-of-3.toml"
    from_file = moeid.verify(moeid.Case.from_toml(case_file))

    def built(top_k):
        b = (
            moeid.CaseBuilder("top2", "gaussian")
            .gate("exp(dot(beta1, x) + beta0)", True, top_k=top_k)
            .mean("dot(a, x) + b")
            .variance("nu")
            .vector("beta1", 1)
            .mass("beta0")
            .vector("a", 1)
            .scalar("b")
            .scalar("nu")
        )
        for beta1, beta0, a, b0, nu in [(2.0, 0.3, 1.5, -0.5, 0.3), (-1.5, 0.0, -1.0, 0.4, 0.2), (0.2, -0.6, 0.5, 1.0, 0.25)]:
            b = b.atom({"beta1": [beta1], "beta0": beta0, "a": [a], "b": b0, "nu": nu})
        return b.build()

    v = moeid.verify(built(2))
    assert v.verdict == from_file.verdict == "interaction"
    assert any(n.startswith("top-2 gate:") for n in v.notes)
    assert not any("top-" in n for n in moeid.verify(built(None)).notes)
    with pytest.raises(moeid.CaseError, match=r"(?s)top_k = 3.*not sparse"):
        built(3)


def test_a_bad_case_raises_case_error_with_place_and_fix(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(LINEAR.read_text().replace("dot(a, x) + b", "dot(a, x) + bb"))
    with pytest.raises(moeid.CaseError) as e:
        moeid.Case.from_toml(bad)
    message = str(e.value)
    assert "bad.toml" in message and "bb" in message
    assert isinstance(e.value, moeid.MoeidError)
    with pytest.raises(moeid.CaseError, match="no-such-file.toml"):
        moeid.Case.from_toml("no-such-file.toml")
    with pytest.raises(ValueError, match="regression"):
        moeid.CaseBuilder("x", "poisson")


def test_a_bad_rate_setting_raises_rates_error():
    case = moeid.Case.from_toml(LINEAR)
    with pytest.raises(moeid.RatesError, match="fitted 1: the case has 2 true atoms"):
        moeid.rates(case, fitted=[1])


# --- the sympy form of every relation -------------------------------------------------------

SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?"


def _exact_text_to_sympy(text, variables):
    """Reads the human text of a relation (`∂²u/∂beta1[0]∂b`, `·`, `−`, `^`, `sigmoid(b)`, `u₂`)
    independently of the Rust renderer, into a sympy expression lhs − rhs."""
    names = sorted(variables, key=len, reverse=True)
    syms = {n: sympy.Symbol(n) for n in variables}
    funcs = {}

    def u(label):
        if label not in funcs:
            funcs[label] = sympy.Function(label)(*[syms[n] for n in variables])
        return funcs[label]

    table = {}

    def placeholder(value):
        key = f"_P{len(table)}_"
        table[key] = value
        return key

    def derivative(m):
        label = "u" + m.group(1).translate(SUB)
        wrt = []
        for d in re.finditer(r"∂(" + NAME + r")([⁰¹²³⁴⁵⁶⁷⁸⁹]*)", m.group(2)):
            power = int(d.group(2).translate(SUPER)) if d.group(2) else 1
            wrt += [syms[d.group(1)]] * power
        return placeholder(sympy.Derivative(u(label), *wrt))

    s = re.sub(r"∂[⁰¹²³⁴⁵⁶⁷⁸⁹]*u([₀-₉]*)/((?:∂" + NAME + r"[⁰¹²³⁴⁵⁶⁷⁸⁹]*)+)", derivative, text)
    s = re.sub(r"\bu([₀-₉]+)", lambda m: placeholder(u("u" + m.group(1).translate(SUB))), s)
    s = re.sub(r"(?<![A-Za-z0-9_\[])u(?![A-Za-z0-9_\[])", lambda m: placeholder(u("u")), s)
    for n in names:
        # a cross-atom coefficient names each atom's parameter with its subscript: `beta1[0]₂`
        s = re.sub(
            r"(?<![A-Za-z0-9_])" + re.escape(n) + r"([₀-₉]+)",
            lambda m: placeholder(sympy.Symbol(n + m.group(1))),
            s,
        )
        s = re.sub(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_\[₀-₉])", placeholder(syms[n]), s)
    s = s.replace("·", "*").replace("−", "-").replace("^", "**")
    table["sigmoid"] = sympy.Lambda(sympy.Symbol("_z"), 1 / (1 + sympy.exp(-sympy.Symbol("_z"))))
    lhs, rhs = s.split(" = ")
    return sympy.sympify(lhs, locals=table) - sympy.sympify(rhs, locals=table)


def _catalogue():
    return sorted(CASES.rglob("*.toml"))


@pytest.mark.parametrize("path", _catalogue(), ids=lambda p: str(p.relative_to(CASES)))
def test_every_relation_sympy_text_parses_and_equals_its_exact_text(path):
    v = moeid.verify(moeid.Case.from_toml(path), cells=1)
    for r in v.relations:
        if r.cls == "singular":
            assert r.sympy_text is None
            continue
        eq = sympy.sympify(r.sympy_text)
        assert isinstance(eq, sympy.Eq) and eq.rhs == 0, r.sympy_text
        if r.exact:
            expected = _exact_text_to_sympy(r.text, v.variables)
            assert sympy.simplify(eq.lhs - expected) == 0, (r.text, r.sympy_text)
            for c in r.coefficients:
                sympy.sympify(c["sympy"])  # every coefficient parses too


# --- notebooks, rates, reports --------------------------------------------------------------


def test_markdown_and_html_reprs_show_the_report_page():
    v = moeid.verify(moeid.Case.from_toml(LINEAR))
    md = v._repr_markdown_()
    assert md.startswith("# softmax-linear")
    assert "**Verdict: interaction**" in md
    assert "data:image/svg+xml;base64," in md, "plots travel inside the page"
    html = v._repr_html_()
    assert "<h1>softmax-linear</h1>" in html and "<table>" in html
    assert "interaction" in str(v)


def test_a_small_rate_check_to_pandas(tmp_path):
    case = moeid.Case.from_toml(LINEAR)
    out = tmp_path / "fits.jsonl"
    r = moeid.rates(case, n=[300, 600, 1200], replicates=2, out=out)
    df = r.to_pandas()
    assert list(df["k"]) == r.settings["fitted"]
    assert set(df["agreement"]) <= {"agrees", "disagrees", "inconclusive", "consistent"}
    assert out.exists() and out.read_text().count("\n") > 1
    again = moeid.rates(case, n=[300, 600, 1200], replicates=2, out=out)
    assert again.json == r.json, "resumed from the checkpoint, the same summary"


def test_report_writes_pages_and_an_index(tmp_path):
    v = moeid.verify(moeid.Case.from_toml(LINEAR))
    index = moeid.report(v, tmp_path / "out")
    assert pathlib.Path(index).read_text().count("softmax-linear") >= 1
    assert (tmp_path / "out" / "softmax-linear.md").exists()
    assert (tmp_path / "out" / "softmax-linear-spectrum.svg").exists()
