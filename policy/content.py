"""Content filter for outgoing text: card numbers, US SSNs, IBANs and passwords / one-time codes.

The text is normalised before it is read (`_normalize`): compatibility forms folded (full-width and
mathematical digits, ligatures), accents and format characters dropped (zero-width spaces, soft hyphens,
joiners), every decimal digit of any script read as its ASCII digit, and a run of separators between two
digits (spaces, tabs, no-break spaces, dots, slashes, dashes, underscores, new lines) read as one
separator. Then every detector pairs a pattern with a check that real data passes and random digits
mostly do not (Luhn and an issuer prefix for cards, the SSA's area/group/serial rules for SSNs, mod-97
and the country format for IBANs, a keyword next to a code-shaped value for secrets), so phone numbers,
dates, times and amounts do not trip it.

A message is read field by field and as all its fields together (`scan_outgoing_fields`), so a number
split between a subject and a body is found. A finding names only the kind of data: its message never
repeats any part of the text, because findings end up in tool results, logs and traces.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from stdnum import iban, luhn
from stdnum.us import ssn

FindingKind = Literal["credit_card", "us_ssn", "iban", "secret_code"]

_MESSAGES: dict[FindingKind, str] = {
    "iban": "the message contains what looks like a bank account number (IBAN)",
    "us_ssn": "the message contains what looks like a US Social Security number",
    "credit_card": "the message contains what looks like a payment card number",
    "secret_code": "the message contains what looks like a password or a one-time code",
}


@dataclass(frozen=True)
class ContentFinding:
    kind: FindingKind
    message: str


@dataclass(frozen=True)
class ContentVerdict:
    """What the filter found: one finding per kind, in the order iban, us_ssn, credit_card, secret_code."""

    findings: tuple[ContentFinding, ...]

    @property
    def kinds(self) -> frozenset[FindingKind]:
        return frozenset(finding.kind for finding in self.findings)

    @property
    def message(self) -> str:
        return "; ".join(finding.message for finding in self.findings)


Span = tuple[int, int]


def scan_outgoing_text(text: str) -> ContentVerdict | None:
    """The findings in `text`, or None when it looks clean."""
    return scan_outgoing_fields([text])


def scan_outgoing_fields(fields: Sequence[str]) -> ContentVerdict | None:
    """The findings in any of the fields of one outgoing message or in all of them read together, or None.

    Each field is read alone too: what follows a number in the next field could hide its shape (an SSN
    must end where its digits end).
    """
    kinds = {kind for text in _readings(fields) for kind, _ in _findings(_normalize(text).text)}
    findings = [ContentFinding(kind, _MESSAGES[kind]) for kind, _ in _DETECTORS if kind in kinds]
    return ContentVerdict(tuple(findings)) if findings else None


def redact(text: str) -> str:
    """`text` with everything `scan_outgoing_text` would find replaced by '#', for the record of a blocked
    message: the history and traces must not keep the card number the filter stopped."""
    return _masked(text, _original_spans(text))


def fields_redactor(fields: Sequence[str]) -> Callable[[str], str]:
    """`redact`, plus the pieces of the findings that only the fields read together show (half a card
    number in the subject, half in the body), wherever those pieces appear."""
    joined = _joined(fields)
    pieces: set[str] = set()
    for start, end in _original_spans(joined):
        pieces.update(piece for piece in joined[start:end].split("\n") if piece.strip())

    def clean(text: str) -> str:
        text = redact(text)
        for piece in sorted(pieces, key=len, reverse=True):
            text = text.replace(piece, "#" * len(piece))
        return text

    return clean


def _joined(fields: Sequence[str]) -> str:
    return "\n".join(fields)


def _readings(fields: Sequence[str]) -> list[str]:
    texts = [text for text in fields if text.strip()]
    return texts + [_joined(texts)] if len(texts) > 1 else texts


def _findings(text: str) -> Iterator[tuple[FindingKind, list[Span]]]:
    """Each kind found in the normalised `text` with its spans. Detectors run in order and each one masks
    what it matched, so an IBAN's digits are not reported again as a card number, nor an SSN's as a code."""
    for kind, detect in _DETECTORS:
        spans = list(detect(text))
        if spans:
            yield kind, spans
            text = _masked(text, spans)


def _original_spans(text: str) -> list[Span]:
    normalized = _normalize(text)
    return [normalized.original(span) for _, spans in _findings(normalized.text) for span in spans]


def _masked(text: str, spans: list[Span]) -> str:
    for start, end in spans:
        text = text[:start] + "#" * (end - start) + text[end:]
    return text


# --- Normalisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Normalized:
    """The text detectors read, and for each of its characters the span of the original it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original(self, span: Span) -> Span:
        return self.starts[span[0]], self.ends[span[1] - 1]


_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})  # format characters (zero-width ...), accents
_DASHES = frozenset("\u2212\u2043\ufe63\uff0d")  # minus sign, hyphen bullet, small and full-width hyphen-minus
# Separators between two digits, by what they are read as; the first kind present in a run wins.
# Not commas: "heart rate 62, 65, 70, 68, 72, 75, 80" is a list, and as one number it would pass Luhn one
# time in ten.
_SEPARATOR_KINDS = (("-", "-"), ("/", "/\\|"), (".", ".·•"), ("\n", "\n"), (" ", " _"))
_SEPARATOR_OF = {char: kind for kind, chars in _SEPARATOR_KINDS for char in chars}


def _normalize(text: str) -> _Normalized:
    return _unify_separators(_fold(text))


def _fold(text: str) -> list[tuple[str, int]]:
    """Each character in compatibility form without accents or format characters, digits in ASCII, dashes
    as '-', blanks as ' ', with the index of the original character it came from."""
    folded = []
    for index, original in enumerate(text):
        for char in unicodedata.normalize("NFKD", original):
            if unicodedata.category(char) in _DROPPED_CATEGORIES:
                continue
            folded.append((_fold_char(char), index))
    return folded


def _fold_char(char: str) -> str:
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if char == "\r":
        return "\n"
    if char.isspace() and char != "\n":
        return " "
    if char in _DASHES or unicodedata.category(char) == "Pd":
        return "-"
    return char


def _unify_separators(folded: list[tuple[str, int]]) -> _Normalized:
    """A run of separators between two ASCII letters or digits, one of them a digit ("4111 . 1111",
    "GB82/WEST"), becomes one separator of the run's first kind; everything else stays as it is."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    while position < len(folded):
        char, index = folded[position]
        run_end = position
        while run_end < len(folded) and folded[run_end][0] in _SEPARATOR_OF:
            run_end += 1
        if run_end > position and _between_number_parts(folded, position, run_end):
            run = {folded[k][0] for k in range(position, run_end)}
            chars.append(next(kind for kind, members in _SEPARATOR_KINDS if run & set(members)))
            starts.append(index)
            ends.append(folded[run_end - 1][1] + 1)
            position = run_end
            continue
        chars.append(char)
        starts.append(index)
        ends.append(index + 1)
        position += 1
    return _Normalized("".join(chars), tuple(starts), tuple(ends))


def _between_number_parts(folded: list[tuple[str, int]], start: int, end: int) -> bool:
    if start == 0 or end == len(folded):
        return False
    before, after = folded[start - 1][0], folded[end][0]
    alnum = before.isascii() and before.isalnum() and after.isascii() and after.isalnum()
    return alnum and (before.isdigit() or after.isdigit())


# --- Digit runs -------------------------------------------------------------------------------

# After normalisation a number is digits with single separators between its groups; a '+' before it marks
# a phone number written with its country code.
_SEPARATOR = r"[-/.\n ]"
_DIGIT_RUN = re.compile(rf"(?<![0-9])(?P<plus>\+ ?)?(?P<run>[0-9]+(?:{_SEPARATOR}[0-9]+)*)")
_GROUP = re.compile(r"[0-9]+")
_E164_MAX_DIGITS = 15
_CARD_MIN_DIGITS, _CARD_MAX_DIGITS = 13, 19
_LEAD_MAX_DIGITS = 2  # what may stand before a number in the same run: "0-", "+1 ", "+44 "


@dataclass(frozen=True)
class _Run:
    groups: tuple[str, ...]
    spans: tuple[Span, ...]
    separators: tuple[str, ...]  # separators[k] stands between groups k and k + 1
    after_plus: bool

    @classmethod
    def of(cls, match: re.Match[str]) -> _Run:
        found = list(_GROUP.finditer(match.string, *match.span("run")))
        separators = tuple(match.string[left.end()] for left in found[:-1])
        return cls(tuple(g.group() for g in found), tuple(g.span() for g in found), separators, bool(match["plus"]))

    def span(self, first: int, last: int) -> Span:
        """The text of groups first .. last - 1."""
        return self.spans[first][0], self.spans[last - 1][1]

    def digits(self, first: int = 0, last: int | None = None) -> str:
        return "".join(self.groups[first:last])

    def starts(self) -> Iterator[int]:
        """Where a number may start: at the run's start or after a lead of at most two digits."""
        yield 0
        lead = 0
        for index, group in enumerate(self.groups[:-1]):
            lead += len(group)
            if lead > _LEAD_MAX_DIGITS:
                return
            yield index + 1


def _runs(text: str) -> Iterator[_Run]:
    for match in _DIGIT_RUN.finditer(text):
        yield _Run.of(match)


# --- IBAN -------------------------------------------------------------------------------------

# A country code and check digits ("DE89", "DE 89"), then up to 30 letters/digits in separated groups.
_IBAN_START = re.compile(rf"(?<![A-Za-z0-9])[A-Za-z]{{2}}{_SEPARATOR}?[0-9]{{2}}")
_IBAN_MIN_LENGTH, _IBAN_MAX_LENGTH = 15, 34  # Norway's length; the standard's maximum


def _ibans(text: str) -> Iterator[Span]:
    """Each IBAN: the longest run of groups from a country code that passes `stdnum.iban`.

    Trying every group boundary (instead of one greedy match) stops at the IBAN's real end when
    words follow it ("GB82 WEST 1234 5698 7654 32 thanks").
    """
    position = 0
    while match := _IBAN_START.search(text, position):
        end = _longest_valid_iban_end(text, match.start())
        if end is None:
            position = match.start() + 1
            continue
        yield match.start(), end
        position = end


def _longest_valid_iban_end(text: str, start: int) -> int | None:
    compact = ""
    found = None
    index = start
    while index < len(text) and len(compact) < _IBAN_MAX_LENGTH:
        char = text[index]
        if _is_ascii_alnum(char):
            compact += char
            index += 1
            at_boundary = index == len(text) or not _is_ascii_alnum(text[index])
            if at_boundary and len(compact) >= _IBAN_MIN_LENGTH and iban.is_valid(compact):
                found = index
        elif char in _SEPARATOR_OF and compact and index + 1 < len(text) and _is_ascii_alnum(text[index + 1]):
            index += 1
        else:
            break
    return found


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


# --- US SSN -----------------------------------------------------------------------------------

# Nine digits count only right after a label, or written 3-2-4 with one kind of separator used twice:
# otherwise they are far more often something else.
_SSN_LABEL = re.compile(
    r"\b(?:ssn|ss\s?#|soc(?:ial)?\.?\s+sec(?:urity)?\.?(?:\s+(?:number|no\.?|num|#))?)\s*(?:is\b|:|#|=|-)?\s*",
    re.IGNORECASE,
)
_SSN_SHAPE = (3, 2, 4)


def _ssns(text: str) -> Iterator[Span]:
    for run in _runs(text):
        formatted = _formatted_ssn(run)
        if formatted is not None:
            yield run.span(formatted, formatted + len(_SSN_SHAPE))
    for label in _SSN_LABEL.finditer(text):
        match = _DIGIT_RUN.match(text, label.end())
        if match and not match["plus"]:
            run = _Run.of(match)
            if ssn.is_valid(run.digits()):
                yield run.span(0, len(run.groups))


def _formatted_ssn(run: _Run) -> int | None:
    """The group an SSN written 3-2-4 starts at: the run's last three groups, after at most a short lead."""
    first = len(run.groups) - len(_SSN_SHAPE)
    if first not in set(run.starts()):
        return None
    shape = tuple(len(group) for group in run.groups[first:])
    same_separator = run.separators[first] == run.separators[first + 1]
    return first if shape == _SSN_SHAPE and same_separator and ssn.is_valid(run.digits(first)) else None


# --- Payment cards ----------------------------------------------------------------------------


def _cards(text: str) -> Iterator[Span]:
    for run in _runs(text):
        for first, last in _card_windows(run, _card_starts(run)):
            yield run.span(first, last)


def _card_starts(run: _Run) -> list[int]:
    """The groups a card may start at. After a '+' the digits are a phone number when they can be one
    ("+4915112345678"), and a short first group is its country code ("+44 20 7946 0958 16" is not a card,
    even though all its digits pass Luhn); "+4111 1111 1111 1111" is a card with a '+' in front."""
    if not run.after_plus:
        return list(run.starts())
    if _possible_phone_number(run.digits()):
        return []
    return [1] if len(run.groups[0]) <= 3 else [0]


def _possible_phone_number(digits: str) -> bool:
    if len(digits) > _E164_MAX_DIGITS:
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return False


def _card_windows(run: _Run, starts: list[int]) -> Iterator[tuple[int, int]]:
    """The cards of a run, as group ranges: a card is the whole run, give or take a short lead ("0-",
    "+1 ") and a trailing expiry date (and security code); a run of cards written back to back is split.

    Not any Luhn-valid stretch of a long run: an order number "112-4567890-1234567" holds a 14-digit
    stretch that passes Luhn one time in ten.
    """
    ends = _card_ends(run)
    first = next((start for start in starts if ends[start] is not None), None)
    while first is not None:
        last = ends[first]
        assert last is not None
        yield first, last
        first = last if ends[last] is not None else None


def _card_ends(run: _Run) -> list[int | None]:
    """For each group, where the longest card starting there ends such that what follows it is nothing, an
    expiry date or another card; None when no card starts there. Computed from the right, in one pass."""
    count = len(run.groups)
    ends: list[int | None] = [None] * (count + 1)
    for first in range(count - 1, -1, -1):
        last, digits = first, ""
        while last < count and len(digits) + len(run.groups[last]) <= _CARD_MAX_DIGITS:
            digits += run.groups[last]
            last += 1
            if (last == count or ends[last] is not None or _expiry_follows(run, last)) and _is_card_number(digits):
                ends[first] = last
    return ends


def _expiry_follows(run: _Run, position: int) -> bool:
    return len(run.groups) - position <= _EXPIRY_MAX_GROUPS and _is_expiry(run.groups[position:])


def _is_card_number(digits: str) -> bool:
    return _CARD_MIN_DIGITS <= len(digits) <= _CARD_MAX_DIGITS and _has_card_prefix(digits) and luhn.is_valid(digits)


def _has_card_prefix(digits: str) -> bool:
    """Whether the number starts like an issued card (Visa, Mastercard, Amex, Discover, Diners, JCB,
    UnionPay, Maestro).

    Luhn alone passes one random number in ten; the prefix rules out phone numbers written with a
    trunk or country code (0..., 1...), most year-first dates (19.., 20..) and order numbers from 7, 8, 9.
    """
    first = digits[0]
    if first in "456":
        return True
    if first == "3":
        return digits[1] not in "123"
    if first == "2":
        return 2221 <= int(digits[:4]) <= 2720
    return False


_EXPIRY_MAX_GROUPS = 3  # 12 / 27 / 123


def _is_expiry(groups: tuple[str, ...]) -> bool:
    """MM/YY, MM/YYYY or MMYY, optionally followed by a three- or four-digit security code."""
    with_code = len(groups) > 1 and len(groups[-1]) in (3, 4) and _is_expiry_date(groups[:-1])
    return with_code or _is_expiry_date(groups)


def _is_expiry_date(groups: tuple[str, ...]) -> bool:
    if len(groups) == 1:
        return len(groups[0]) == 4 and _is_month(groups[0][:2])
    return len(groups) == 2 and len(groups[0]) <= 2 and _is_month(groups[0]) and len(groups[1]) in (2, 4)


def _is_month(digits: str) -> bool:
    return 1 <= int(digits) <= 12


# --- Passwords and one-time codes -------------------------------------------------------------
# A code counts only next to a word that makes it a credential: a bare "code 123456" is more often a
# promo, booking or zip code than a secret, and a keyword without a value ("we'll text you a code")
# gives nothing away. Accents are gone by now: "código de verificación" reads "codigo de verificacion".

_CODE_KEYWORD = (
    r"(?:(?:one[- ]?time[- ]?(?:pass(?:word|code)?|code|pin|key)|t?otp|2fa|mfa|pass[- ]?code|pin)"
    r"(?:[- ]?(?:code|number|no\.?))?|"
    r"(?:verification|verify|validation|security|authentication|authori[sz]ation|auth|log[- ]?in|sign[- ]?in|"
    r"access|two[- ]factor|two[- ]step|2[- ]step|sms|activation|unlock|door|gate|alarm|reset|recovery|backup)"
    r"[- ]?(?:code|pin)|"
    r"codigo de (?:verificacion|verificacao|seguranca|seguridad|acceso)|code de (?:verification|securite)|"
    r"codice (?:di verifica|otp)|(?:verifizierungs|bestatigungs|sicherheits|anmelde)code|verificatiecode)"
)
# A code: 4 to 8 digits, in groups or not ("123 456", "1-2-3-4"), maybe after a short letter prefix ("G-").
# (Bounded, so that a long run of digits costs linear time.)
_CODE_DIGITS = rf"(?:[A-Za-z]{{1,3}}-)?(?P<value>[0-9]{{1,8}}(?:{_SEPARATOR}[0-9]{{1,8}}){{0,7}})"
_CODE_CONNECTOR = r"(?:is\b|was\b|are\b|:|=|-|#)"
# Letters and digits (at least one digit) count as a code only right after the keyword: "2FA code: A1B2C3".
_CODE_ALPHANUMERIC = r"(?P<word>(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{4,12})(?![\w-])"
_CODE_AFTER_KEYWORD = re.compile(
    rf"\b{_CODE_KEYWORD}\b\s*{_CODE_CONNECTOR}?\s*:? *(?:{_CODE_DIGITS}|{_CODE_ALPHANUMERIC})", re.IGNORECASE
)
# A few words between the keyword and its value need a connector: "your OTP for Acme is 4829".
_CODE_AFTER_WORDS = re.compile(
    rf"\b{_CODE_KEYWORD}\b(?:\s+[^\W\d_][\w'.-]*){{1,4}}?\s*{_CODE_CONNECTOR}\s*:? *{_CODE_DIGITS}", re.IGNORECASE
)
# The usual SMS forms, the code first: "482913 is your Acme verification code", "Use 4829 to sign in".
_CODE_BEFORE_KEYWORD = re.compile(
    rf"(?<![\w-]){_CODE_DIGITS} *(?:is|=|-|:)? *(?:your|the) +(?:[\w.-]+ +){{0,3}}?(?:{_CODE_KEYWORD}|code)\b",
    re.IGNORECASE,
)
_CODE_TO_ACT = re.compile(
    rf"\b(?:use|enter|type|input) +(?:the +)?(?:code +)?{_CODE_DIGITS} +(?:to|as|for) +"
    r"(?:verify|confirm|log ?in|sign ?in|authenticate|complete|reset|access|unlock|your)\b",
    re.IGNORECASE,
)
# "your code is 4829", "Code: 4829" -- unless the words before say which harmless code it is.
_GENERIC_CODE = re.compile(rf"\bcode\s*(?:is\b|was\b|:|=|#)\s*:? *{_CODE_DIGITS}", re.IGNORECASE)
_HARMLESS_CODE_QUALIFIERS = frozenset(
    "promo promotional discount coupon voucher gift referral invite invitation zip postal post postcode area "
    "country dial dialing dialling booking reservation order tracking reference ref product item course class "
    "error status dress colour color source qr bar barcode tax sort".split()
)
_QUALIFIER_REACH = 40  # characters before "code" that hold the two words that qualify it

# The card's own security code is shorter than other codes.
_CARD_SECURITY_CODE = re.compile(
    r"\b(?:cvv2?|cvc2?|csc|cid)\b\s*(?:is\b|:|=|-|#)?\s*:?\s*[0-9]{3,4}(?![0-9])", re.IGNORECASE
)
# "password is X", "password for the wifi is X", "pwd: X".
_PASSWORD = re.compile(
    r"\b(?:password|passwd|pwd|passphrase)(?:\s+for\s+(?:[\w.@-]+\s+){1,3}?)?\s*"
    r"(?P<connector>is\s*:?|:|=)\s*(?P<value>\"[^\"]+\"|'[^']+'|\S+)(?P<rest>[^\S\n]*\S?)",
    re.IGNORECASE,
)
_CODE_MIN_DIGITS, _CODE_MAX_DIGITS = 4, 8


def _secret_codes(text: str) -> Iterator[Span]:
    for pattern in (_CODE_AFTER_KEYWORD, _CODE_AFTER_WORDS, _CODE_BEFORE_KEYWORD, _CODE_TO_ACT):
        for match in pattern.finditer(text):
            yield from _code_value(match)
    for match in _GENERIC_CODE.finditer(text):
        words_before = re.findall(r"[a-z]+", text[max(0, match.start() - _QUALIFIER_REACH) : match.start()].lower())
        if not _HARMLESS_CODE_QUALIFIERS & set(words_before[-2:]):
            yield from _code_value(match)
    for match in _CARD_SECURITY_CODE.finditer(text):
        yield match.span()
    for match in _PASSWORD.finditer(text):
        value = match.group("value")
        as_credential = match.group("connector")[-1] in ":=" and _ends_clause(value, match.group("rest"))
        if as_credential or _looks_like_password(value):
            yield match.span("value")


def _code_value(match: re.Match[str]) -> Iterator[Span]:
    """The code of a keyword match: a letters-and-digits word, or the first groups of its digits that make
    4 to 8 digits ("482913 2026-12-07": the code, not the date after it)."""
    if match.groupdict().get("word"):
        yield match.span("word")
        return
    run = _Run.of(_DIGIT_RUN.match(match.string, match.start("value")))  # type: ignore[arg-type]
    total = 0
    for last, group in enumerate(run.groups, start=1):
        total += len(group)
        if total > _CODE_MAX_DIGITS:
            return
        if total >= _CODE_MIN_DIGITS and (last == len(run.groups) or total + len(run.groups[last]) > _CODE_MAX_DIGITS):
            yield run.span(0, last)
            return


def _ends_clause(value: str, rest: str) -> bool:
    """Whether the value is the last word of its line or sentence: "pwd: banana", not "password: tap here"."""
    return value[-1] in ".,;!?" or not rest.strip()


def _looks_like_password(value: str) -> bool:
    """Tells "the password is Sunset2024" from "your password is strong": a plain word is prose; a value
    with a digit, a symbol, mixed case or quotes is a password."""
    value = value.rstrip(".,;!?")
    if value[:1] in "\"'":
        return True
    has_digit = any(char.isdigit() for char in value)
    has_symbol = any(not char.isalnum() for char in value)
    mixed_case = any(char.isupper() for char in value[1:]) and any(char.islower() for char in value)
    return has_digit or has_symbol or mixed_case


_DETECTORS: tuple[tuple[FindingKind, Callable[[str], Iterator[Span]]], ...] = (
    ("iban", _ibans),
    ("us_ssn", _ssns),
    ("credit_card", _cards),
    ("secret_code", _secret_codes),
)
