"""What a model's outcome means, and how a prediction is read against the model's cut-off.

A model predicts the probability of its outcome 1. Whether that is bad news (progression, death:
an *unfavourable* outcome, whose probability is a "risk") or good news (response: a *favourable*
outcome) decides the words a reader sees. The model file says it in its ``outcome`` block::

    "outcome": {"name": "no_benefit_6m",                      # the 0/1 column; 1 = the outcome
                "positive_means": "no clinical benefit at 6 months",
                "unfavourable": true,                         # true | false | null (not stated)
                "label": "Risk of no clinical benefit at 6 months",   # the words used (written
                "above_cutoff": "high risk",                  #  by training from the above;
                "below_cutoff": "low risk"}                   #  optional when loading)

"Risk" is used only for an unfavourable outcome; otherwise the quantity is a "probability".
Files written before the block existed still load: their direction is *not stated*, the wording
is neutral ("probability of ...", "above/below the cut-off") and reports say so.

``read_against_cutoff`` is the one three-way reading used by the gauge, the report, the command
line, the Slicer module and the web workstation: with a 95 % CI, a prediction is *above* the
cut-off only when the whole interval is (ci_low >= cut-off, the rule "positive when >= cut-off"),
*below* only when the whole interval is (ci_high < cut-off), and otherwise *indeterminate — the
95 % CI spans the cut-off*, never low or high. Without a CI the point estimate decides.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

from ..errors import ModelFileError
from ..formatting import percent

# Colours of the readings (text on white, contrast >= 4.5:1) and of the gauge zones (light tints).
# Blue / vermillion (Okabe & Ito's colour-blind-safe pair) for the favourable / unfavourable side,
# grey for an indeterminate reading or an unstated direction. Words always carry the meaning too.
COLOURS = {"favourable": "#0060a0", "unfavourable": "#a34400", "indeterminate": "#4d4d4d", "neutral": "#37474f"}
ZONE_COLOURS = {"favourable": "#a9cfe8", "unfavourable": "#f3c3a0", "neutral": "#d6d6d6"}
INDETERMINATE = "indeterminate — the 95 % CI spans the cut-off"
_PREFIX = re.compile(r"^\s*(risk|probability|chance|likelihood)\s+of\s+", re.IGNORECASE)
_RISK = re.compile(r"\brisk", re.IGNORECASE)


@dataclass(frozen=True)
class OutcomeTerms:
    """The words for one model's outcome (see the module docstring)."""

    name: str
    positive_means: str
    unfavourable: bool | None
    label: str
    above_cutoff: str
    below_cutoff: str
    stated: bool  # the model file has an 'outcome' block with a direction (false for older files)

    @property
    def quantity(self) -> str:
        """'risk' for an unfavourable outcome, else 'probability'."""
        return "risk" if self.unfavourable else "probability"

    @property
    def direction_note(self) -> str:
        """One sentence for readers: what the direction is, or that it is not stated."""
        if self.unfavourable is None:
            return (f"The model does not state whether {self.positive_means} is a favourable or an unfavourable "
                    "outcome (direction unspecified): the prediction is reported as a probability, without "
                    "judging it good or bad.")
        kind = "unfavourable" if self.unfavourable else "favourable"
        return f"Outcome predicted: {self.positive_means} ({kind}, as declared in the model file)."

    def as_dict(self) -> dict:
        return asdict(self)


def _strip_prefix(text: str) -> str:
    return _PREFIX.sub("", text).strip()


def declare_outcome(name: str, positive_means: str | None = None, unfavourable: bool | None = None,
                    label: str | None = None) -> dict:
    """The model file's ``outcome`` block, written by training.

    ``positive_means``: what outcome 1 means in words (default: "<name> = 1"); a leading "risk of" /
    "probability of" is dropped (it is added from the direction). ``label``: the headline, default
    "Risk of ..." (unfavourable) or "Probability of ..."; a label that says "risk" for an outcome
    not declared unfavourable is refused.
    """
    meaning = _strip_prefix(positive_means or "") or f"{name} = 1"
    words = default_words(meaning, unfavourable)
    block = {"name": str(name), "positive_means": meaning, "unfavourable": unfavourable,
             "label": label or words["label"], "above_cutoff": words["above_cutoff"],
             "below_cutoff": words["below_cutoff"]}
    validate_outcome_block(block)
    return block


def default_words(positive_means: str, unfavourable: bool | None) -> dict:
    """Headline and class words from the direction: 'risk' only for an unfavourable outcome."""
    if unfavourable:
        return {"label": f"Risk of {positive_means}", "above_cutoff": "high risk", "below_cutoff": "low risk"}
    if unfavourable is False:
        return {"label": f"Probability of {positive_means}", "above_cutoff": f"higher probability of {positive_means}",
                "below_cutoff": f"lower probability of {positive_means}"}
    return {"label": f"Probability of {positive_means}", "above_cutoff": "", "below_cutoff": ""}


def validate_outcome_block(block: Any) -> None:
    """Check a model's ``outcome`` block; raises ModelFileError."""
    if not isinstance(block, Mapping):
        raise ModelFileError("'outcome' must be an object {name, positive_means, unfavourable}.")
    for key in ("name", "positive_means"):
        if not isinstance(block.get(key), str) or not block[key].strip():
            raise ModelFileError(f"'outcome.{key}' must be a non-empty text.")
    if "unfavourable" not in block or block["unfavourable"] not in (True, False, None):
        raise ModelFileError("'outcome.unfavourable' must be true, false or null (direction not stated).")
    for key in ("label", "above_cutoff", "below_cutoff"):
        if key in block and not isinstance(block[key], str):
            raise ModelFileError(f"'outcome.{key}' must be text.")
    if block["unfavourable"] is not True:
        risky = [key for key in ("label", "above_cutoff", "below_cutoff") if _RISK.search(str(block.get(key) or ""))]
        if risky:
            raise ModelFileError(f"'outcome.{risky[0]}' says 'risk' but the outcome is not declared unfavourable "
                                 "('risk' is used only for an unfavourable outcome).")


def outcome_terms(model: Mapping[str, Any]) -> OutcomeTerms:
    """The outcome words of a model document (its ``outcome`` block, or the documented defaults for
    files without one: direction not stated, neutral wording)."""
    block = model.get("outcome")
    if isinstance(block, Mapping):
        words = default_words(block["positive_means"], block.get("unfavourable"))
        words.update({k: block[k] for k in ("label", "above_cutoff", "below_cutoff") if block.get(k)})
        return OutcomeTerms(block["name"], block["positive_means"], block.get("unfavourable"), words["label"],
                            words["above_cutoff"], words["below_cutoff"], block.get("unfavourable") is not None)
    legacy = (model.get("model") or {}).get("outcome") or {}  # nomograms before the block: {name, label}
    card = (model.get("model_card") or {}).get("outcome") or {}  # signatures: {column, definition}
    name = str(legacy.get("name") or card.get("column") or "outcome")
    meaning = re.sub(r"\s+by\s+\d.*$", "", _strip_prefix(str(legacy.get("label") or ""))) or f"{name} = 1"
    words = default_words(meaning, None)
    return OutcomeTerms(name, meaning, None, words["label"], "", "", False)


# --------------------------------------------------------------------------------------------
# the three-way reading
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """A prediction read against the cut-off.

    ``kind``: 'above', 'below', 'indeterminate' or 'no_cutoff'; ``short``: a few words for a gauge
    ("High risk", "Below the cut-off", "Indeterminate"); ``text``: the full reading with the
    cut-off value; ``side``: 'favourable', 'unfavourable', 'indeterminate' or 'neutral';
    ``colour``: the text colour of that side.
    """

    kind: str
    short: str
    text: str
    side: str
    colour: str

    def as_dict(self) -> dict:
        return asdict(self)


def read_against_cutoff(value: float, cutoff: float | None, ci_low: float | None = None,
                        ci_high: float | None = None, terms: OutcomeTerms | None = None,
                        show: Callable[[Any], str] = percent) -> Reading:
    """Three-way reading of ``value`` (with its CI) against ``cutoff`` (see the module docstring).

    ``show`` formats the cut-off in the text (percent for probabilities; ``formatting.score``
    for a signature score).
    """
    if cutoff is None:
        return Reading("no_cutoff", "No cut-off", "no cut-off declared by the model", "neutral", COLOURS["neutral"])
    cutoff = float(cutoff)
    has_ci = ci_low is not None and ci_high is not None
    low, high = sorted((float(ci_low), float(ci_high))) if has_ci else (float(value), float(value))
    if low < cutoff <= high and has_ci:
        text = f"Indeterminate — the 95 % CI spans the cut-off ({show(cutoff)})"
        return Reading("indeterminate", "Indeterminate", text, "indeterminate", COLOURS["indeterminate"])
    kind = "above" if low >= cutoff else "below"
    words = ""
    if terms is not None:
        words = terms.above_cutoff if kind == "above" else terms.below_cutoff
    where = f"{'the whole 95 % CI is ' if has_ci else ''}{kind} the cut-off ({show(cutoff)})"
    if terms is None or terms.unfavourable is None or not words:
        side = "neutral"
    else:
        side = "unfavourable" if (kind == "above") == bool(terms.unfavourable) else "favourable"
    short = _capital(words) if words and len(words) <= 24 else f"{kind.capitalize()} the cut-off"
    text = f"{_capital(words)}: {where}" if words else _capital(where)
    return Reading(kind, short, text, side, COLOURS[side])


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def zone_colours(terms: OutcomeTerms | None) -> tuple[str, str]:
    """Light tints of the zones below and above the cut-off (gauge bands written by training)."""
    if terms is None or terms.unfavourable is None:
        return ZONE_COLOURS["neutral"], "#bdbdbd"
    if terms.unfavourable:
        return ZONE_COLOURS["favourable"], ZONE_COLOURS["unfavourable"]
    return ZONE_COLOURS["unfavourable"], ZONE_COLOURS["favourable"]
