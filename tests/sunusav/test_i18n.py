"""French by default, English on request: the catalog is complete, current, compiled, and used by the pages.

The source strings are French; locale/en/LC_MESSAGES/django.po holds their English
translation and django.mo its compiled form (locale/README.md: how to update them).
"""

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert
from tests.factories import MemberFactory, PaymentFactory

LOCALE = Path(settings.BASE_DIR) / "locale"
PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "en" / "LC_MESSAGES" / "django.mo"

# Where the product's own strings live, and the options locale/README.md gives makemessages.
SOURCE_DIRS = ("alerts", "backoffice", "cases", "credit", "fraud", "sunusav", "templates")
MAKEMESSAGES = ["makemessages", "-l", "en", "--add-location=file", "--no-obsolete", "--ignore=.venv"]

# A printf placeholder as gettext's python-format sees it: %(name)s, %(minutes)02d, %(average).0f, %%.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


# --- A small .po reader (the standard library has none) ---------------------------------------
def _unquote(line: str) -> str:
    body = line[line.index('"') + 1 : line.rindex('"')]
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), body)


def po_entries(path: Path) -> list[dict]:
    """Each entry as a dict: msgctxt, msgid, msgid_plural, msgstr (a list: one per plural form), flags, obsolete."""
    entries, entry, field = [], None, None

    def start():
        return {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": {}, "flags": set(), "obsolete": False}

    def finish():
        if entry is not None and entry["msgid"] is not None:
            entry["msgstr"] = [entry["msgstr"][i] for i in sorted(entry["msgstr"])]
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line or (line.startswith("#") and entry is not None and entry["msgid"] is not None):
            finish()
            entry, field = None, None
            if not line:
                continue
        if entry is None:
            entry = start()
        entry["obsolete"] |= obsolete
        if line.startswith("#,"):
            entry["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            if field[0] == "msgstr":
                entry["msgstr"][field[1]] += _unquote(line)
            else:
                entry[field[0]] += _unquote(line)
        else:
            keyword = line.split(None, 1)[0]
            if keyword.startswith("msgstr"):
                index = int(keyword[7:-1]) if "[" in keyword else 0
                field = ("msgstr", index)
                entry["msgstr"][index] = _unquote(line)
            else:
                field = (keyword, None)
                entry[keyword] = _unquote(line)
    return entries


def _messages(entries: list[dict]) -> list[dict]:
    """The translatable entries: not the header, not obsolete."""
    return [e for e in entries if e["msgid"] != "" and not e["obsolete"]]


def _key(entry: dict) -> tuple:
    return (entry["msgctxt"], entry["msgid"], entry["msgid_plural"])


# --- The committed catalog --------------------------------------------------------------------
def test_every_string_is_translated_and_none_is_fuzzy_or_obsolete():
    entries = po_entries(PO)
    header = [e for e in entries if e["msgid"] == ""]
    assert len(header) == 1 and "fuzzy" not in header[0]["flags"], "the .po header is missing or fuzzy"
    assert "Plural-Forms: nplurals=2; plural=(n != 1);" in header[0]["msgstr"][0]
    messages = _messages(entries)
    assert len(messages) > 300  # sanity: the reader did read the catalog
    assert [e["msgid"] for e in entries if e["obsolete"]] == []
    assert [e["msgid"] for e in messages if "fuzzy" in e["flags"]] == []
    untranslated = [e["msgid"] for e in messages if not e["msgstr"] or not all(s.strip() for s in e["msgstr"])]
    assert untranslated == []
    plural_forms = {e["msgid"]: len(e["msgstr"]) for e in messages if e["msgid_plural"]}
    assert plural_forms and set(plural_forms.values()) == {2}, plural_forms


def test_placeholders_survive_translation():
    wrong = []
    for e in _messages(po_entries(PO)):
        sources = [e["msgid"], e["msgid_plural"]] if e["msgid_plural"] else [e["msgid"]]
        for source, translation in zip(sources, e["msgstr"], strict=True):
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(translation)):
                wrong.append((source, translation))
    assert wrong == []


def test_the_compiled_catalog_matches_the_po():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for e in _messages(po_entries(PO)):
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if e["msgctxt"] is not None else e["msgid"]
        if e["msgid_plural"]:
            expected.update({(msgid, i): text for i, text in enumerate(e["msgstr"])})
        else:
            expected[msgid] = e["msgstr"][0]
    compiled = {k: v for k, v in compiled.items() if k != ""}
    assert compiled == expected, "django.mo is stale: run `manage.py compilemessages` (locale/README.md)"


def test_the_catalog_has_every_string_of_the_source_and_no_other(tmp_path):
    """makemessages over a copy of the sources finds exactly the committed msgids: a new string fails here."""
    if not (shutil.which("xgettext") and shutil.which("msgmerge")):
        if os.environ.get("CI") == "true":
            pytest.fail("GNU gettext (xgettext, msgmerge) is required under CI=true")
        pytest.skip("GNU gettext is not installed")
    base = Path(settings.BASE_DIR)
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "migrations")
    for name in SOURCE_DIRS:
        shutil.copytree(base / name, tmp_path / name, ignore=junk)
    shutil.copy(base / "manage.py", tmp_path / "manage.py")
    shutil.copytree(LOCALE, tmp_path / "locale")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sunusav.settings", "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    fresh = {_key(e) for e in _messages(po_entries(tmp_path / PO.relative_to(base)))}
    committed = {_key(e) for e in _messages(po_entries(PO))}
    assert sorted(fresh - committed, key=str) == [], "strings not in the .po yet: see locale/README.md"
    assert sorted(committed - fresh, key=str) == [], "strings the source no longer has: see locale/README.md"


def test_the_po_reader_reads_plurals_flags_and_continuations(tmp_path):
    path = tmp_path / "t.po"
    path.write_text(
        'msgid ""\nmsgstr "Language: en\\n"\n\n'
        '#: a.py\n#, python-format\nmsgid ""\n"%(n)d ligne "\n"longue"\nmsgid_plural "%(n)d lignes"\n'
        'msgstr[0] "%(n)d \\"line\\""\nmsgstr[1] "%(n)d lines"\n\n'
        '#, fuzzy\nmsgid "a"\nmsgstr "b"\n\n#~ msgid "old"\n#~ msgstr "vieux"\n',
        encoding="utf-8",
    )
    header, plural, fuzzy, old = po_entries(path)
    assert header["msgstr"] == ["Language: en\n"]
    assert plural["msgid"] == "%(n)d ligne longue" and plural["msgstr"] == ['%(n)d "line"', "%(n)d lines"]
    assert plural["flags"] == {"python-format"} and "fuzzy" in fuzzy["flags"]
    assert old["obsolete"] and old["msgid"] == "old"
    assert PLACEHOLDER.findall("%(hours)s h %(minutes)02d, %(average).0f %% x") == [
        "%(hours)s",
        "%(minutes)02d",
        "%(average).0f",
        "%%",
    ]


# --- The pages, in French by default and in English after the header's switch ---------------
# Column headers are capitalised by the admin ("statut / type" shows as "Statut / type").
PAGES = {
    "admin:index": (
        ["Back-office des risques", "Tableau de bord", "Essayer les modèles"],
        ["Risk back-office", "Dashboard", "Try the models"],
    ),
    "backoffice:dashboard": (
        ["Files de tâches", "Santé des modèles", "Alertes par type"],
        ["Task queues", "Model health", "Alerts by type"],
    ),
    "admin:alerts_aialert_changelist": (
        ["Résoudre les alertes sélectionnées", "Statut / type", "Montant", "Fraude suspectée"],
        ["Resolve selected alerts", "Status / type", "Amount", "Suspected fraud"],
    ),
    "admin:sunusav_heldpayment_changelist": (
        ["Libérer les paiements sélectionnés", "Rejeter les paiements sélectionnés", "Score de fraude"],
        ["Release selected payments", "Reject selected payments", "Fraud score"],
    ),
}


def _shows(text: str, html: str) -> bool:
    """Whether the page shows `text` as words ("Score / band" is not shown by "Score / bande")."""
    return re.search(rf"(?<!\w){re.escape(text)}(?!\w)", html) is not None


@pytest.fixture
def queues_with_rows(db):
    """One open fraud alert on one held payment, so both work queues show their columns and actions."""
    member = MemberFactory()
    payment = PaymentFactory(member=member, status="held", kind="invoice", amount_sats=1_000_000)
    AIAlert.objects.create(
        user=member,
        alert_type="fraud_suspect",
        created_at=timezone.now(),
        payload={
            "payment_id": str(payment.pk),
            "fraud_score": 0.97,
            "decision": "hold",
            "reasons": [{"id": "invoice_burst", "fr": "Rafale de factures.", "en": "Invoice burst."}],
            "model_version": "fraud-v1",
            "amount_sats": 1_000_000,
        },
    )
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_pages_are_french_by_default_and_english_after_switching(client, analyst_user, queues_with_rows):
    client.force_login(analyst_user)
    for name, (french, english) in PAGES.items():
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert '<html lang="fr"' in html, name
        assert [s for s in french if s not in html] == [], name
        assert [s for s in english if _shows(s, html)] == [], name

    response = client.post("/i18n/setlang/", {"language": "en", "next": reverse("admin:index")})
    assert response.status_code == 302
    for name, (french, english) in PAGES.items():
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        html = response.content.decode()
        assert '<html lang="en"' in html, name
        assert [s for s in english if s not in html] == [], name
        assert [s for s in french if _shows(s, html)] == [], name

    client.post("/i18n/setlang/", {"language": "fr", "next": reverse("admin:index")})
    assert "Tableau de bord" in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_the_analyst_can_log_in_with_a_password_and_switch_to_english(client, analyst_user):
    """The real login form (not force_login): the switch works for a session made the usual way."""
    response = client.post(
        reverse("admin:login"), {"username": "analyste", "password": "pw-analyste-2026", "next": reverse("admin:index")}
    )
    assert response.status_code == 302, "login refused"
    assert "Tableau de bord" in client.get(reverse("admin:index")).content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": reverse("admin:index")})
    html = client.get(reverse("admin:index")).content.decode()
    assert "Dashboard" in html and "Tableau de bord" not in html


@pytest.mark.django_db
def test_french_first_whatever_the_browser_language(client, analyst_user):
    client.force_login(analyst_user)
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="fr"' in page
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    assert '<html lang="en"' in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
