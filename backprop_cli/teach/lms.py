"""LMS exports of the variants: Moodle XML, GIFT and a QTI 1.2 zip (Canvas).

Every format carries, per asked value, the correct answer with its absolute tolerance
and the wrong answers of distractors.py, each with its own feedback ("you left out the
activation derivative"). What each format requires and how it was checked against
Moodle's and Canvas's importers is in docs/teach-lms.md.

* Moodle XML: per variant one `cloze` (multianswer) question holding every blank as
  `{w:NUMERICAL:=v:tol#fb~%0%wrong:tol#fb…}` (the default), or, with
  type="numerical", one `numerical` question per blank; a `category` per template and
  per variant, so a quiz can draw one variant per student ("random question").
* GIFT: one numerical question per blank, `{#=v:tol#fb =%0%wrong:tol#fb}`.
* QTI 1.2: one assessment per variant (numerical_question items, Canvas's metadata),
  `imsmanifest.xml` listing them, zipped with fixed timestamps (byte-identical reruns).
"""
from __future__ import annotations

import html
import io
import re
import zipfile
from xml.sax.saxutils import escape, quoteattr

from .answers import Question, answer_text, questions
from .distractors import diagnoser_for, distractors
from .sheets import describe, givens, structure, task
from .words import cause_feedback, words

MOODLE_TYPES = ("cloze", "numerical")


def _number(x: float, decimals: int) -> str:
    """A number for an LMS answer field: `decimals` places, trailing zeros dropped."""
    text = answer_text(x, decimals)
    if "e" in text or "." not in text:
        return text
    text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-", "-0") else text


def _tol(t: float) -> str:
    return f"{t:.10f}".rstrip("0").rstrip(".") or "0"


def _feedback(cause: str, lang: str) -> str:
    return f"{cause_feedback(cause, lang)} (backprop check: {cause})"


def _prepared(template, variants, lang):
    """Per variant: (variant, questions, {name: [Distractor]})."""
    out = []
    for v in variants:
        qs = questions(template, v)
        d = diagnoser_for(v)
        out.append((v, qs, {q.name: distractors(d, q.name, q.value, q.tolerance, template.decimals) for q in qs}))
    return out


def _stem_html(variant, qs: list[Question], decimals: int, lang: str, title: str) -> str:
    w = words(lang)
    spec = variant.spec
    rows = "".join(f"<tr><td><code>{escape(n)}</code></td><td>{escape(v)}</td></tr>" for n, v in givens(spec))
    lines = "<br/>".join(escape(s) for s in structure(spec, variant.trace))
    return (f"<p><b>{escape(title)} — {escape(w['variant'])} {escape(variant.id)}</b></p>"
            f"<p>{escape(describe(spec, lang))}</p>"
            f"<table border=\"1\"><tr><th>{escape(w['name'])}</th><th>{escape(w['value'])}</th></tr>{rows}</table>"
            f"<p><i>{escape(w['structure'])}</i><br/><code>{lines}</code></p>"
            f"<p>{escape(task(spec, decimals, lang))}</p>")


# ----------------------------------------------------------------------------------------
# Moodle XML


def _cloze_text(text: str) -> str:
    """Feedback inside {…}: Moodle ends it at an unescaped ~ or }, and reads \\} back."""
    return text.replace("\\", "/").replace("}", "\\}").replace("~", "&#126;")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def moodle_xml(template, variants, *, lang: str = "en", kind: str = "cloze", title: str = "") -> str:
    d = template.decimals
    w = words(lang)
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    base = re.sub(r"[/\s]+", "_", title or "backprop")
    for v, qs, wrong in _prepared(template, variants, lang):
        category = f"$course$/backprop/{base}" + ("" if kind == "cloze" else f"/{v.id}")
        out += ['  <question type="category">', f"    <category><text>{escape(category)}</text></category>",
                "  </question>"]
        stem = _stem_html(v, qs, d, lang, title)
        if kind == "cloze":
            blanks = []
            for q in qs:
                alts = [f"={_number(q.value, d + 2)}:{_tol(q.tolerance)}#{_cloze_text(w['correct'])}"]
                alts += [f"%0%{_number(x.value, d + 2)}:{_tol(q.tolerance)}#{_cloze_text(_feedback(x.cause, lang))}"
                         for x in wrong[q.name]]
                blanks.append(f"<tr><td><code>{escape(q.name)}</code></td>"
                              f"<td>{{{_weight(q.points)}:NUMERICAL:{'~'.join(alts)}}}</td></tr>")
            body = stem.replace("{", "&#123;").replace("}", "&#125;") + "<table>" + "".join(blanks) + "</table>"
            out += ['  <question type="cloze">', f"    <name><text>{escape(v.id)}</text></name>",
                    f'    <questiontext format="html"><text>{_cdata(body)}</text></questiontext>',
                    '    <generalfeedback format="html"><text></text></generalfeedback>',
                    "    <penalty>0</penalty>", "    <hidden>0</hidden>", "  </question>"]
            continue
        for q in qs:
            text = stem + f"<p><code>{escape(q.name)}</code> = ?</p>"
            out += ['  <question type="numerical">', f"    <name><text>{escape(v.id + ' ' + q.name)}</text></name>",
                    f'    <questiontext format="html"><text>{_cdata(text)}</text></questiontext>',
                    '    <generalfeedback format="html"><text></text></generalfeedback>',
                    f"    <defaultgrade>{_weight(q.points)}</defaultgrade>", "    <penalty>0</penalty>",
                    "    <hidden>0</hidden>",
                    '    <answer fraction="100" format="moodle_auto_format">',
                    f"      <text>{_number(q.value, d + 2)}</text>",
                    f'      <feedback format="html"><text>{escape(w["correct"])}</text></feedback>',
                    f"      <tolerance>{_tol(q.tolerance)}</tolerance>", "    </answer>"]
            for x in wrong[q.name]:
                out += ['    <answer fraction="0" format="moodle_auto_format">',
                        f"      <text>{_number(x.value, d + 2)}</text>",
                        f'      <feedback format="html"><text>{escape(_feedback(x.cause, lang))}</text></feedback>',
                        f"      <tolerance>{_tol(q.tolerance)}</tolerance>", "    </answer>"]
            out += ["    <unitgradingtype>0</unitgradingtype>", "    <unitpenalty>0.1000000</unitpenalty>",
                    "    <showunits>3</showunits>", "    <unitsleft>0</unitsleft>", "  </question>"]
    out.append("</quiz>")
    return "\n".join(out) + "\n"


def _weight(points: float) -> str:
    return str(int(points)) if float(points).is_integer() else f"{points:g}"


# ----------------------------------------------------------------------------------------
# GIFT


_GIFT_SPECIAL = re.compile(r"([~=#{}:\\])")


def _gift(text: str) -> str:
    return _GIFT_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def gift(template, variants, *, lang: str = "en", title: str = "") -> str:
    d = template.decimals
    w = words(lang)
    out = []
    base = re.sub(r"[/\s]+", "_", title or "backprop")
    for v, qs, wrong in _prepared(template, variants, lang):
        out += [f"$CATEGORY: $course$/backprop/{base}/{v.id}", ""]
        stem = _stem_html(v, qs, d, lang, title)
        for q in qs:
            answers = [f"={_number(q.value, d + 2)}:{_tol(q.tolerance)}#{_gift(w['correct'])}"]
            answers += [f"=%0%{_number(x.value, d + 2)}:{_tol(q.tolerance)}#{_gift(_feedback(x.cause, lang))}"
                        for x in wrong[q.name]]
            text = _gift(stem + f"<p><code>{html.escape(q.name)}</code> = ?</p>")
            out += [f"::{_gift(v.id + ' ' + q.name)}::[html]{text}{{#", *("    " + a for a in answers), "}", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------
# QTI 1.2 (Canvas)


def _qti_assessment(template, v, qs, wrong, lang: str, title: str) -> str:
    d = template.decimals
    stem = _stem_html(v, qs, d, lang, title)
    ident = f"backprop_{v.id}"
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<questestinterop xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xsi:schemaLocation="http://www.imsglobal.org/xsd/ims_qtiasiv1p2 '
           'http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd">',
           f"  <assessment ident={quoteattr(ident)} title={quoteattr((title or 'backprop') + ' — ' + v.id)}>",
           "    <qtimetadata><qtimetadatafield><fieldlabel>cc_maxattempts</fieldlabel>"
           "<fieldentry>1</fieldentry></qtimetadatafield></qtimetadata>",
           '    <section ident="root_section">']
    for i, q in enumerate(qs, 1):
        item = f"{ident}_{i}"
        lo, hi = q.value - q.tolerance, q.value + q.tolerance
        text = (stem if i == 1 else "") + f"<p><code>{html.escape(q.name)}</code> = ?</p>"
        out += [f"      <item ident={quoteattr(item)} title={quoteattr(q.name)}>",
                "        <itemmetadata><qtimetadata>",
                "          <qtimetadatafield><fieldlabel>question_type</fieldlabel>"
                "<fieldentry>numerical_question</fieldentry></qtimetadatafield>",
                f"          <qtimetadatafield><fieldlabel>points_possible</fieldlabel>"
                f"<fieldentry>{_weight(q.points)}</fieldentry></qtimetadatafield>",
                "        </qtimetadata></itemmetadata>",
                "        <presentation>",
                f'          <material><mattext texttype="text/html">{escape(text)}</mattext></material>',
                '          <response_str ident="response1" rcardinality="Single">',
                '            <render_fib fibtype="Decimal"><response_label ident="answer1"/></render_fib>',
                "          </response_str>",
                "        </presentation>",
                "        <resprocessing>",
                '          <outcomes><decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/></outcomes>']
        for k, x in enumerate(wrong[q.name], 1):
            xlo, xhi = x.value - q.tolerance, x.value + q.tolerance
            out += ['          <respcondition continue="Yes"><conditionvar><and>',
                    f'            <vargte respident="response1">{_number(xlo, d + 2)}</vargte>'
                    f'<varlte respident="response1">{_number(xhi, d + 2)}</varlte>',
                    f'          </and></conditionvar><displayfeedback feedbacktype="Response" linkrefid="{item}_w{k}"/>'
                    "</respcondition>"]
        out += ['          <respcondition continue="No"><conditionvar><or>',
                f'            <varequal respident="response1">{_number(q.value, d)}</varequal>',
                f'            <and><vargte respident="response1">{_number(lo, d + 2)}</vargte>'
                f'<varlte respident="response1">{_number(hi, d + 2)}</varlte></and>',
                '          </or></conditionvar><setvar action="Set" varname="SCORE">100</setvar></respcondition>',
                "        </resprocessing>"]
        for k, x in enumerate(wrong[q.name], 1):
            out += [f'        <itemfeedback ident="{item}_w{k}"><flow_mat><material>'
                    f'<mattext texttype="text/plain">{escape(_feedback(x.cause, lang))}</mattext>'
                    "</material></flow_mat></itemfeedback>"]
        out.append("      </item>")
    out += ["    </section>", "  </assessment>", "</questestinterop>"]
    return "\n".join(out) + "\n"


def _manifest(ids: list[str]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<manifest identifier="backprop_manifest" xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
           "  <metadata><schema>IMS Content</schema><schemaversion>1.1.3</schemaversion></metadata>",
           "  <organizations/>", "  <resources>"]
    for vid in ids:
        out += [f'    <resource identifier="backprop_{vid}" type="imsqti_xmlv1p2">',
                f'      <file href="backprop_{vid}/backprop_{vid}.xml"/>', "    </resource>"]
    out += ["  </resources>", "</manifest>"]
    return "\n".join(out) + "\n"


def qti_zip(template, variants, *, lang: str = "en", title: str = "") -> bytes:
    """A QTI 1.2 package: imsmanifest.xml + one assessment per variant."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        ids = []
        entries = []
        for v, qs, wrong in _prepared(template, variants, lang):
            ids.append(v.id)
            entries.append((f"backprop_{v.id}/backprop_{v.id}.xml", _qti_assessment(template, v, qs, wrong, lang, title)))
        for name, text in [("imsmanifest.xml", _manifest(ids))] + entries:
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))  # fixed: reruns are byte-identical
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
