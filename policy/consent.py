"""Recognising consent changes in what a person sends or says: SMS keywords and spoken opt-outs.

Revocation may be made by "any reasonable means" (FCC 24-18), so besides Twilio's keywords a
plain-language "stop texting me" counts. Mistakes are not symmetrical: reading an opt-out into a
message only costs a re-opt-in, missing one breaks the rule; so opt-out matching is generous and
opt-in matching is strict (YES is not an opt-in: it is how people answer confirmations).
"""

from __future__ import annotations

import re
from typing import Literal

# Twilio handles these itself on long codes (it blocks the number until START); we mirror them.
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_KEYWORDS = frozenset({"START", "UNSTOP"})

InboundConsent = Literal["opt_out", "opt_in"]


def classify_inbound_sms(body: str) -> InboundConsent | None:
    """Whether an SMS changes consent: "opt_out", "opt_in", or None.

    A keyword must be the whole message, in any case, with surrounding punctuation and spacing
    ignored ("Stop.", " opt-out ", "STOP ALL"). A sentence that asks to stop ("please stop texting
    me") is an opt-out too, by `is_spoken_opt_out`.
    """
    word = _keyword_form(body)
    if word in STOP_KEYWORDS:
        return "opt_out"
    if word in START_KEYWORDS:
        return "opt_in"
    if is_spoken_opt_out(body):
        return "opt_out"
    return None


def _keyword_form(body: str) -> str | None:
    """The message as one upper-case word when it is one or two words and punctuation, else None."""
    match = _ONE_OR_TWO_WORDS.fullmatch(body)
    return None if match is None else "".join(word for word in match.groups() if word).upper()


_ONE_OR_TWO_WORDS = re.compile(r"[\W_]*([A-Za-z]+)(?:[\s_-]+([A-Za-z]+))?[\W_]*")

_CONTACT_VERB = (
    r"(?:call|calling|phone|phoning|ring|ringing|text|texting|message|messaging|sms|"
    r"contact|contacting|email|emailing)"
)
_ME = r"(?:me|this number|my (?:phone )?number)"
_LIST = r"(?:your|the|this|that)\s+(?:[\w-]+\s+){0,2}?list\b"
_NEGATION_BEFORE = re.compile(
    r"\b(?:don't|do not|dont|never|won't|wouldn't|not)\s+(?:want\s+(?:you\s+)?to\s+)?(?:please\s+)?$"
)

_OPT_OUT_PHRASES = tuple(
    re.compile(pattern)
    for pattern in (
        # "stop calling me", "please stop texting", "stop contacting me at work"
        rf"\bstop\s+(?:{_CONTACT_VERB}|bothering)\b",
        # "don't call me again", "do not text me anymore", "never call this number again"
        rf"\b(?:don't|do not|dont|never)\s+(?:ever\s+)?{_CONTACT_VERB}\s+{_ME}\s+"
        r"(?:again|anymore|any more|ever)\b",
        # "don't call me.", "do not text me" as a whole clause ("don't call me tomorrow" is scheduling)
        rf"\b(?:don't|do not|dont|never)\s+(?:ever\s+)?{_CONTACT_VERB}\s+{_ME}(?:\s+please)?\s*(?:[.!,;]|$)",
        # "take me off your list", "remove me from the calling list", "remove my number"
        rf"\b(?:take|get)\s+{_ME}\s+off\s+(?:of\s+)?{_LIST}",
        rf"\bremove\s+{_ME}\s+from\s+{_LIST}",
        r"\bremove\s+my\s+(?:phone\s+)?number\b",
        # "I don't want these calls", "I do not want any more texts", "I don't want to be called"
        r"\b(?:don't|do not|dont)\s+want\s+(?:these|your|any more|anymore|any|more)\s+"
        r"(?:calls|texts|messages|emails)\b",
        r"\b(?:don't|do not|dont)\s+want\s+(?:to\s+be\s+(?:called|texted|messaged|contacted|emailed)|"
        rf"you\s+{_CONTACT_VERB}\s+me)\b",
        # "unsubscribe me", "I want to opt out", "opt me out", "revoke my consent"
        r"\bunsubscribe\b",
        r"\bopt\s*-?\s*(?:me\s+)?out\b",
        r"\brevoke\s+(?:my\s+)?consent\b",
    )
)


def is_spoken_opt_out(text: str) -> bool:
    """Whether an utterance (or message) asks us to stop contacting the person.

    A bare "stop" is not enough: on a call people say it to interrupt the coach. "Don't stop
    calling me" is not an opt-out.
    """
    normalized = " ".join(text.lower().replace("\u2019", "'").split())
    for phrase in _OPT_OUT_PHRASES:
        for match in phrase.finditer(normalized):
            if not _NEGATION_BEFORE.search(normalized[: match.start()]):
                return True
    return False
