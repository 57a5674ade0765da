"""Writes the content filter's corpus: tests/security/data/pii_must_block.jsonl and ordinary_must_pass.jsonl.

Run from the repository root: python tests/security/make_content_corpus.py. The output is committed and the
tests read it; this script only documents how it was made and remakes it the same way (fixed seed).

Every case is one JSON line {"kind", "variant", "fields"}: `fields` is the outgoing text of one message,
field by field (one field, or a subject and a body when a number is split across them). The PII cases are
valid numbers (Luhn cards of several brands, IBANs of several countries, SSNs the SSA could issue, one-time
codes) crossed with separators, digit forms, leads and tails and phrasings; the ordinary cases are coaching
messages full of numbers that are not PII.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stdnum import iban, luhn
from stdnum.us import ssn

DATA = Path(__file__).parent / "data"
random_numbers = random.Random(20261207)

Case = dict[str, Any]

# --- how a number can be written --------------------------------------------------------------

SEPARATORS = {
    "space": " ",
    "dash": "-",
    "dot": ".",
    "slash": "/",
    "two spaces": "  ",
    "tab": "\t",
    "no-break space": "\u00a0",
    "spaced dash": " - ",
    "en dash": "\u2013",
    "zero-width space": "\u200b",
    "underscore": "_",
    "spaced dot": " . ",
    "narrow no-break space": "\u202f",
    "soft hyphen": "\u00ad",
}
DIGIT_FORMS = {  # the code point of zero in each script
    "ascii": 0x30,
    "full-width": 0xFF10,
    "arabic-indic": 0x0660,
    "extended arabic-indic": 0x06F0,
    "devanagari": 0x0966,
    "bengali": 0x09E6,
    "thai": 0x0E50,
    "mathematical bold": 0x1D7CE,
    "mathematical monospace": 0x1D7F6,
}


def in_form(text: str, form: str) -> str:
    zero = DIGIT_FORMS[form]
    return "".join(chr(zero + int(char)) if char.isdigit() else char for char in text)


def grouped(digits: str, sizes: tuple[int, ...], separator: str) -> str:
    groups, position = [], 0
    for size in sizes:
        groups.append(digits[position:position + size])
        position += size
    if position < len(digits):
        groups.append(digits[position:])
    return separator.join(groups)


# --- valid numbers ----------------------------------------------------------------------------

CARD_BRANDS = {  # brand: (prefix, length, grouping)
    "visa": ("4", 16, (4, 4, 4, 4)),
    "visa-13": ("4", 13, (4, 4, 5)),
    "mastercard": ("53", 16, (4, 4, 4, 4)),
    "mastercard-2": ("2231", 16, (4, 4, 4, 4)),
    "amex": ("37", 15, (4, 6, 5)),
    "amex-34": ("34", 15, (4, 6, 5)),
    "discover": ("6011", 16, (4, 4, 4, 4)),
    "jcb": ("3530", 16, (4, 4, 4, 4)),
    "diners": ("36", 14, (4, 6, 4)),
    "unionpay": ("62", 16, (4, 4, 4, 4)),
    "unionpay-19": ("62", 19, (4, 4, 4, 4, 3)),
    "maestro": ("6759", 19, (4, 4, 4, 4, 3)),
}


def card_number(prefix: str, length: int) -> str:
    body = prefix + "".join(random_numbers.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = body + luhn.calc_check_digit(body)
    assert luhn.is_valid(number)
    return number


CARDS = {brand: (card_number(prefix, length), grouping) for brand, (prefix, length, grouping) in CARD_BRANDS.items()}

IBANS = [  # published examples of each country's format, checked below
    "DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", "ES9121000418450200051332",
    "IT60X0542811101000000123456", "NL91ABNA0417164300", "BE71096123456769", "CH9300762011623852957",
    "AT611904300234573201", "PL61109010140000071219812874", "SE4550000000058398257466", "NO9386011117947",
    "DK5000400440116243", "IE29AIBK93115212345678", "PT50000201231234567890154", "FI2112345600000785",
]
assert all(iban.is_valid(number) for number in IBANS)


def ssn_number() -> str:
    while True:
        area = random_numbers.choice([n for n in range(1, 900) if n != 666])
        number = f"{area:03d}{random_numbers.randint(1, 99):02d}{random_numbers.randint(1, 9999):04d}"
        if ssn.is_valid(number):
            return number


SSNS = [ssn_number() for _ in range(20)]


def code_number() -> str:
    length = random_numbers.choice([4, 5, 6, 6, 6, 7, 8])
    return "".join(random_numbers.choice("0123456789") for _ in range(length))


# --- PII that must be blocked -----------------------------------------------------------------

CARD_CONTEXTS = ["my card is {}", "Card: {}", "{}", "pay with {} please", "Visa {} thanks", "Number {}.",
                 "Here you go: {}\nThanks!", "cc {} (the work one)"]
CARD_LEADS_AND_TAILS = {
    "plus": "+{}", "zero dash": "0-{}", "country code": "+1 {}", "expiry": "{} 12/27",
    "expiry with year": "{} 09/2028", "expiry and code": "{} 0328 123", "expiry after comma": "{}, 11/29",
}


def card_cases() -> Iterator[Case]:
    for index, (brand, (number, grouping)) in enumerate(CARDS.items()):
        for separator_index, (name, separator) in enumerate(SEPARATORS.items()):
            context = CARD_CONTEXTS[(index + separator_index) % len(CARD_CONTEXTS)]
            yield case("credit_card", f"{brand} separator={name}", context.format(grouped(number, grouping, separator)))
        for form in DIGIT_FORMS:
            context = CARD_CONTEXTS[(index + len(form)) % len(CARD_CONTEXTS)]
            yield case("credit_card", f"{brand} digits={form}", context.format(in_form(grouped(number, grouping, " "), form)))
        for name, shape in CARD_LEADS_AND_TAILS.items():
            yield case("credit_card", f"{brand} {name}", "card " + shape.format(grouped(number, grouping, "-")))
        yield case("credit_card", f"{brand} compact", f"the card number is {number}")
        yield case("credit_card", f"{brand} zero-width between every digit", "card " + "\u200b".join(number))
        yield case("credit_card", f"{brand} full-width digits and dots", "card " + in_form(grouped(number, grouping, "."), "full-width"))
        groups = grouped(number, grouping, " ").split(" ")
        half = len(groups) // 2
        yield case("credit_card", f"{brand} split across subject and body",
                   "Card " + " ".join(groups[:half]), " ".join(groups[half:]) + " thanks")


SSN_CONTEXTS = ["SSN {}", "my social is {}", "{}", "It's {} for the form", "ssn: {}", "Soc. sec. {}"]


def ssn_cases() -> Iterator[Case]:
    same_twice = ["space", "dash", "dot", "slash", "two spaces", "tab", "no-break space", "spaced dash", "en dash"]
    for index, number in enumerate(SSNS):
        for name in same_twice[index % 3::3] + ["dash"]:
            context = SSN_CONTEXTS[(index + len(name)) % len(SSN_CONTEXTS)]
            yield case("us_ssn", f"separator={name}", context.format(grouped(number, (3, 2, 4), SEPARATORS[name])))
        form = list(DIGIT_FORMS)[index % len(DIGIT_FORMS)]
        yield case("us_ssn", f"digits={form}", "SSN " + in_form(grouped(number, (3, 2, 4), "-"), form))
        yield case("us_ssn", "labelled, nine digits", f"Social security number is {number}")
        yield case("us_ssn", "labelled, grouped 3-3-3", f"SSN: {grouped(number, (3, 3, 3), ' ')}")
        yield case("us_ssn", "labelled, zero-width inside", "ssn " + "\u200b".join(number))
        yield case("us_ssn", "zero dash lead", "it is 0-" + grouped(number, (3, 2, 4), "-"))
        yield case("us_ssn", "split across subject and body", "My SSN", grouped(number, (3, 2, 4), "-"))


def iban_cases() -> Iterator[Case]:
    for index, number in enumerate(IBANS):
        for name in ("space", "dash", "dot", "slash", "tab", "no-break space", "zero-width space", "two spaces"):
            written = grouped(number, (4,) * 8, SEPARATORS[name])
            yield case("iban", f"{number[:2]} separator={name}", f"Pay to {written} thanks")
        for form in list(DIGIT_FORMS)[1:5]:
            yield case("iban", f"{number[:2]} digits={form}", "IBAN " + in_form(grouped(number, (4,) * 8, " "), form))
        yield case("iban", f"{number[:2]} lower case", "iban: " + grouped(number.lower(), (4,) * 8, " "))
        yield case("iban", f"{number[:2]} country code apart", f"{number[:2]} {grouped(number[2:], (2,) + (4,) * 8, ' ')}")
        yield case("iban", f"{number[:2]} full-width letters", "IBAN " + "".join(chr(ord(c) + 0xFEE0) for c in number))
        cut = 12 if index % 2 else 8
        yield case("iban", f"{number[:2]} split across subject and body", f"Account {number[:cut]}", number[cut:])


CODE_PHRASINGS = [
    "Your code is {}", "Code: {}", "code: {}", "Your verification code is {}", "verification code {}",
    "{} is your Acme verification code", "{} is your code", "OTP {}", "Your OTP: {}", "otp={}",
    "Your one-time password is {}", "One-time passcode: {}", "Passcode {}", "passcode: {}", "PIN {}", "Your PIN is {}",
    "PIN code: {}", "Security code: {}", "2FA: {}", "2FA code {}", "Your 2FA code for GitHub is {}",
    "Your login code: {}", "sign-in code {}", "MFA code: {}", "Use {} to sign in", "Enter {} to verify your account",
    "Your OTP for the bank is {}", "The door code is {}", "G-{} is your Google verification code",
    "Authentication code: {}", "código de verificación: {}", "Verifizierungscode: {}", "code de vérification : {}",
    "Your access code = {}", "Backup code: {}", "PIN number {}", "the alarm code is {}", "TOTP {}",
]
CODE_WRITINGS = {"plain": "{}", "spaced halves": "{a} {b}", "dashed halves": "{a}-{b}", "every digit spaced": "{spaced}"}


def code_cases() -> Iterator[Case]:
    forms = list(DIGIT_FORMS)
    for index, phrasing in enumerate(CODE_PHRASINGS):
        for writing_index, (writing, shape) in enumerate(CODE_WRITINGS.items()):
            code = code_number()
            half = len(code) // 2
            written = shape.format(code, a=code[:half], b=code[half:], spaced=" ".join(code))
            form = forms[(index + writing_index) % len(forms)]
            yield case("secret_code", f"{writing} digits={form}", phrasing.format(in_form(written, form)))
        code = code_number()
        yield case("secret_code", "zero-width inside", phrasing.format("\u200b".join(code)))
    for index in range(12):
        yield case("secret_code", "split across subject and body", "Your verification code", f"is {code_number()}")


def case(kind: str, variant: str, *fields: str) -> Case:
    return {"kind": kind, "variant": variant, "fields": list(fields)}


# --- ordinary coaching messages that must pass ------------------------------------------------


def pick(*options: Any) -> Any:
    return random_numbers.choice(options)


def time_of_day() -> str:
    return f"{random_numbers.randint(5, 21):02d}:{pick('00', '15', '30', '45')}"


def date() -> str:
    year, month, day = random_numbers.randint(2024, 2027), random_numbers.randint(1, 12), random_numbers.randint(1, 28)
    return pick(f"{year}-{month:02d}-{day:02d}", f"{month:02d}/{day:02d}/{year}", f"{day:02d}.{month:02d}.{year}",
                f"{day}/{month}/{year}", f"{year}/{month:02d}/{day:02d}")


def price() -> str:
    amount = random_numbers.randint(1, 250000) / 100
    return pick(f"${amount:,.2f}", f"€{amount:.2f}", f"£{amount:,.2f}", f"{amount:,.2f} USD", f"${int(amount):,}")


def steps() -> str:
    count = random_numbers.randint(2000, 25000)
    return pick(f"{count:,} steps", f"{count} steps", f"{count:,}".replace(",", " ") + " steps")


def phone() -> str:
    area, line = random_numbers.randint(201, 989), random_numbers.randint(100, 199)
    return pick(
        f"+1 {area} 555 0{line}", f"+1-{area}-555-0{line}", f"({area}) 555-0{line}", f"{area}.555.0{line}",
        f"+44 20 7946 0{random_numbers.randint(100, 999)}", f"+44 7700 900{random_numbers.randint(100, 999)}",
        f"+49 30 {random_numbers.randint(10000000, 99999999)}", f"+33 1 42 68 {random_numbers.randint(10, 99)} 00",
        f"0044 20 7946 0{random_numbers.randint(100, 999)}", f"+1 {area} 555 0{line} ext. 12",
        f"+61 4{random_numbers.randint(10, 99)} {random_numbers.randint(100, 999)} {random_numbers.randint(100, 999)}",
        f"+91 98{random_numbers.randint(100, 999)} {random_numbers.randint(10000, 99999)}",
    )


def order_number() -> str:
    """An order or ticket number: Amazon-style, or a card-shaped number that fails Luhn."""
    digits = card_number(pick("4", "5", "37", "6011"), 16)
    failing = digits[:-1] + str((int(digits[-1]) + random_numbers.randint(1, 9)) % 10)
    assert not luhn.is_valid(failing)
    amazon = f"{random_numbers.randint(100, 199)}-{random_numbers.randint(1000000, 9999999)}-{random_numbers.randint(1000000, 9999999)}"
    return pick(grouped(failing, (4, 4, 4, 4), " "), failing, amazon, f"#{random_numbers.randint(10000, 99999999)}")


def numbers(count: int, low: int, high: int, separator: str) -> str:
    return separator.join(str(random_numbers.randint(low, high)) for _ in range(count))


def duration() -> str:
    return pick(f"{random_numbers.randint(5, 90)} minutes", f"{random_numbers.randint(1, 3)}h {random_numbers.randint(0, 59)}m",
                f"{random_numbers.randint(20, 59)}:{random_numbers.randint(10, 59)}", "1:05:30")


ORDINARY_TEMPLATES = [
    lambda: f"Let's meet at {time_of_day()} tomorrow.",
    lambda: f"Your run is scheduled for {date()} at {time_of_day()}.",
    lambda: f"Check-in on {date()} {time_of_day()} — how did the week go?",
    lambda: f"Great job! You walked {steps()} today.",
    lambda: f"You spent {price()} on healthy groceries this week.",
    lambda: f"The gym membership is {price()}/month, the yoga class {price()}.",
    lambda: f"I'll call you at {phone()} as you asked.",
    lambda: f"Your new number {phone()} is saved.",
    lambda: f"Text me at {phone()} if plans change, or call {phone()}.",
    lambda: f"Your order {order_number()} of running shoes ships on {date()}.",
    lambda: f"Ticket {order_number()}: the physio moved your appointment to {date()}.",
    lambda: f"Run {random_numbers.randint(3, 21)} km in {duration()}: that's your goal for {date()}.",
    lambda: f"Splits: 5:{random_numbers.randint(10, 59)}, 5:{random_numbers.randint(10, 59)}, 5:{random_numbers.randint(10, 59)} per km.",
    lambda: f"You've kept this habit since {random_numbers.randint(2015, 2026)}, {random_numbers.randint(3, 99)}% of days.",
    lambda: f"Progress on 'Read 24 books in {random_numbers.randint(2025, 2027)}': {random_numbers.randint(1, 100)}% done.",
    lambda: f"Meditate for {duration()} before {time_of_day()}.",
    lambda: f"Sleep goal: {random_numbers.randint(6, 9)}.{random_numbers.randint(0, 9)} h; last night {random_numbers.randint(5, 9)}h {random_numbers.randint(0, 59)}m.",
    lambda: f"Weight {random_numbers.randint(55, 110)}.{random_numbers.randint(0, 9)} kg on {date()}, down {random_numbers.randint(1, 5)}.{random_numbers.randint(0, 9)} kg.",
    lambda: f"BP {random_numbers.randint(100, 140)}/{random_numbers.randint(60, 90)}, resting HR {random_numbers.randint(48, 80)} bpm.",
    lambda: f"The clinic is at {random_numbers.randint(1, 2500)} Market Street, San Francisco, CA 94{random_numbers.randint(100, 199)}.",
    lambda: f"Meet me at Unter den Linden {random_numbers.randint(1, 99)}, 10{random_numbers.randint(100, 999)} Berlin at {time_of_day()}.",
    lambda: f"Your savings goal: {price()} of {price()} ({random_numbers.randint(1, 99)}%).",
    lambda: f"Week {random_numbers.randint(1, 52)}: {steps()}/day, {random_numbers.randint(1, 3)}.{random_numbers.randint(0, 9)} L water, {random_numbers.randint(5, 9)} h sleep.",
    lambda: f"Drink water at {time_of_day()}, {time_of_day()} and {time_of_day()}.",
    lambda: f"Reminder: dentist {date()}, {time_of_day()}, room {random_numbers.randint(100, 999)}.",
    lambda: f"You did {random_numbers.randint(10, 100)} push-ups, {random_numbers.randint(10, 100)} squats and a {duration()} plank.",
    lambda: f"Budget check: rent {price()}, food {price()}, fun {price()}.",
    lambda: f"Your flight lands {date()} {time_of_day()}; the hotel booking ref is {order_number()}.",
    lambda: f"Goal for {random_numbers.randint(2026, 2030)}: save {price()} and run {random_numbers.randint(500, 2000)} km.",
    lambda: f"Tracking number {random_numbers.randint(10**11, 10**12 - 1)} — the yoga mat arrives {date()}.",
    lambda: f"Call the coach line {phone()} between {time_of_day()} and {time_of_day()}.",
    lambda: f"Your verification code expires in {random_numbers.randint(2, 30)} minutes.",
    lambda: f"I'll text you a one-time code when you log in on {date()}.",
    lambda: f"Pin your goals to the fridge; review them at {time_of_day()}.",
    lambda: f"Use promo code RUN{random_numbers.randint(10, 99)} for {random_numbers.randint(5, 50)}% off at the running store.",
    lambda: f"The zip code is {random_numbers.randint(10000, 99999)} and the event starts at {time_of_day()}.",
    lambda: f"Your booking confirmation code is AB{random_numbers.randint(1000, 9999)}.",
    lambda: f"The dress code for the {date()} gala is smart casual.",
    lambda: "Set a new PIN for your phone and a password you can remember — don't send them to me.",
    lambda: f"Postal code: {random_numbers.randint(10000, 99999)}, pick-up from {time_of_day()}.",
    lambda: f"Area code {random_numbers.randint(201, 989)} numbers are local for you.",
    lambda: f"You're {random_numbers.randint(20, 80)} years old and aiming for {random_numbers.randint(8000, 15000)} steps by {random_numbers.randint(2026, 2028)}.",
    lambda: f"Interval plan: {random_numbers.randint(4, 10)} x 400 m at {random_numbers.randint(1, 2)}:{random_numbers.randint(10, 59)}, rest {random_numbers.randint(60, 120)} s.",
    lambda: f"Quarter results: {random_numbers.randint(100, 999)} {random_numbers.randint(100, 999)} {random_numbers.randint(100, 999)} steps in total since {date()}.",
    lambda: f"From {date()} to {date()} you logged {random_numbers.randint(10, 200)} workouts.",
    lambda: f"Your calendar: {date()} {time_of_day()}-{time_of_day()} deep work, {time_of_day()} gym.",
    lambda: f"Conference call: dial {phone()}, then the meeting ID {random_numbers.randint(100, 999)} {random_numbers.randint(100, 999)} {random_numbers.randint(1000, 9999)}#.",
    lambda: f"ISBN 978-{random_numbers.randint(0, 1)}-{random_numbers.randint(100, 999)}-{random_numbers.randint(10000, 99999)}-{random_numbers.randint(0, 9)} is the book we talked about.",
    lambda: f"Version {random_numbers.randint(1, 9)}.{random_numbers.randint(0, 20)}.{random_numbers.randint(0, 99)} of the app adds habit streaks.",
    lambda: f"Resting heart rate this week: {numbers(7, 55, 95, ', ')} bpm.",
    lambda: f"Mood scores (1-10) since Monday: {numbers(7, 1, 10, ', ')}.",
    lambda: f"Reps per set: {numbers(8, 4, 15, ' ')}; rest {random_numbers.randint(60, 180)} s between sets.",
    lambda: f"Daily steps: {', '.join(steps() for _ in range(5))}.",
    lambda: f"Sets: {numbers(5, 5, 12, '/')} at {random_numbers.randint(40, 120)} kg.",
    lambda: f"Call me on 07700 900{random_numbers.randint(100, 999)} or at the office, 030 {random_numbers.randint(1000, 9999)} {random_numbers.randint(1000, 9999)}.",
    lambda: f"Zoom meeting ID {random_numbers.randint(100, 999)} {random_numbers.randint(1000, 9999)} {random_numbers.randint(1000, 9999)}, starts {time_of_day()}.",
    lambda: f"Cadence {random_numbers.randint(150, 190)} spm, power {random_numbers.randint(150, 350)} W, {random_numbers.randint(300, 900)} kcal.",
]
ORDINARY_SPLIT = [
    lambda: (f"Plan for {date()}", f"Run 5 km at {time_of_day()}, then {steps()}."),
    lambda: (f"Your week: {steps()}", f"and {price()} saved. Next check-in {date()}."),
    lambda: (f"Call at {time_of_day()}", f"{phone()} is the number you gave me."),
    lambda: (f"Order {order_number()}", f"arrives {date()}."),
]


def ordinary_cases() -> Iterator[Case]:
    for index in range(400):
        template = ORDINARY_TEMPLATES[index % len(ORDINARY_TEMPLATES)]
        yield case("ordinary", f"template {index % len(ORDINARY_TEMPLATES)}", template())
    for index in range(40):
        yield case("ordinary", "subject and body", *ORDINARY_SPLIT[index % len(ORDINARY_SPLIT)]())


def write(name: str, cases: Iterator[Case]) -> int:
    lines = [json.dumps(item, ensure_ascii=True) for item in cases]
    (DATA / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    blocked = write("pii_must_block.jsonl", itertools.chain(card_cases(), iban_cases(), ssn_cases(), code_cases()))
    ordinary = write("ordinary_must_pass.jsonl", ordinary_cases())
    print(f"{blocked} PII cases, {ordinary} ordinary cases")


if __name__ == "__main__":
    main()
