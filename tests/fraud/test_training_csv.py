"""`train_fraud_model --from-csv`: an exported history trains like stored payments; a bad row changes nothing."""

import csv
import datetime as dt

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from fraud.selectors import payment_features
from fraud.training import CSV_COLUMNS, TrainingError, labeled_payments_from_csv
from sunusav.ml.registry import artifact_verify
from sunusav.models import ModelVersion, Payment
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=0)))


def history_rows(*, members: int = 60, fraud_members: int = 16, seed: int = 3) -> list[dict]:
    """An exported history: ordinary traffic, then fraud of the four patterns for some members."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(member, t, kind, amount, device, place, label):
        stamp = t.astimezone(dt.timezone(dt.timedelta(hours=int(rng.integers(-1, 2))))).isoformat()
        rows.append(
            {
                "member_id": member,
                "timestamp": stamp,
                "kind": kind,
                "amount_sats": amount,
                "device": device,
                "location": place,
                "label": label,
            }
        )

    for index in range(members):
        member, device, place = f"M{index:03d}", f"dev-{index}", f"loc-{index % 5}"
        t = START
        for _ in range(30):
            t += dt.timedelta(seconds=float(rng.exponential(20 * 3600)) + 120)
            kind = "invoice" if rng.random() < 0.3 else "payment"
            add(member, t, kind, int(rng.lognormal(9.5, 0.6)) + 100, device, place, "0" if index % 3 else "")
        if index >= fraud_members:
            continue
        t += dt.timedelta(hours=3)
        pattern = index % 4
        if pattern == 0:
            add(member, t, "payment", int(rng.integers(400_000, 2_000_000)), "thief", "far", "1")
        elif pattern == 1:
            for k in range(10):
                add(member, t + dt.timedelta(seconds=4 * k), "invoice", 2_000, device, place, "1")
        elif pattern == 2:
            for k in range(5):
                add(member, t + dt.timedelta(seconds=3 * k), "payment", 150_000, device, place, "1")
        else:
            for k in range(4):
                add(
                    member,
                    t + dt.timedelta(minutes=7 * k),
                    "payment",
                    int(rng.integers(900_000, 990_000)),
                    device,
                    place,
                    "1",
                )
    return rows


def write_csv(path, rows, columns=CSV_COLUMNS):
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_command_trains_from_an_exported_history(artifacts_dir, tmp_path, capsys):
    path = write_csv(tmp_path / "history.csv", history_rows())
    call_command("train_fraud_model", "--from-csv", str(path), "--n-estimators", "30")
    row = ModelVersion.objects.get(name="fraud")
    assert row.status == ModelVersion.Status.ACTIVE
    card = artifact_verify(name="fraud", version=row.version, expected_sha256=row.sha256)
    assert card["params"]["source"] == "csv: history.csv"
    # The labelled rows are the labels; unlabelled rows only feed the forest.
    assert card["counts"]["labeled_fraud"] == 4 * (1 + 10 + 5 + 4)
    assert card["counts"]["labeled"] < card["counts"]["payments"]
    assert card["metrics"]["n_fraud"] > 0 and card["metrics"]["recall"] is not None
    assert card["split"].startswith("by member")
    assert "activated" in capsys.readouterr().out
    assert not Payment.objects.exists()  # an exported history is read, never stored


def test_csv_features_are_those_of_the_same_stored_payments(tmp_path):
    member, other = MemberFactory(), MemberFactory()
    t = START
    stored, rows = [], []
    plan = [
        (member, 0, "invoice", 5_000, "a", "dakar"),
        (member, 20, "invoice", 6_000, "a", "dakar"),
        (other, 25, "payment", 9_000, "z", "thies"),
        (member, 30, "payment", 7_000, "", "dakar"),
        (member, 3600, "payment", 800_000, "b", "touba"),
        (member, 3600 * 30, "invoice", 4_000, "b", "touba"),
    ]
    for who, seconds, kind, amount, device, place in plan:
        when = t + dt.timedelta(seconds=seconds)
        stored.append(
            Payment.objects.create(
                member=who, kind=kind, amount_sats=amount, device_id=device, location=place, created_at=when
            )
        )
        rows.append(
            {
                "member_id": str(who.pk),
                "timestamp": when.isoformat(),
                "kind": kind,
                "amount_sats": amount,
                "device": device,
                "location": place,
                "label": "",
            }
        )
    data = labeled_payments_from_csv(write_csv(tmp_path / "h.csv", rows))
    np.testing.assert_array_equal(data.features, payment_features(payments=stored))
    assert np.isnan(data.labels).all() and list(data.member_ids[:2]) == [str(member.pk)] * 2


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("amount_sats", "douze", "ligne 14, colonne amount_sats : nombre entier"),
        ("amount_sats", "-500", "ligne 14, colonne amount_sats : le montant doit être supérieur à 0"),
        ("timestamp", "01/03/2026 08:00", "ligne 14, colonne timestamp : date ISO 8601"),
        ("timestamp", "2026-03-01T08:00:00", "ligne 14, colonne timestamp : date ISO 8601"),  # no offset
        ("kind", "transfert", "ligne 14, colonne kind : type inconnu « transfert »"),
        ("label", "oui", "ligne 14, colonne label : 0, 1 ou vide"),
        ("member_id", "", "ligne 14, colonne member_id : valeur manquante"),
    ],
)
def test_a_bad_row_names_its_line_and_column_and_changes_nothing(artifacts_dir, tmp_path, column, value, expected):
    rows = history_rows()
    rows[12][column] = value  # line 14: the header is line 1
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(CommandError, match=expected):
        call_command("train_fraud_model", "--from-csv", str(path))
    assert not ModelVersion.objects.exists()
    assert not any(artifacts_dir.iterdir())


def test_a_missing_column_is_named_and_changes_nothing(artifacts_dir, tmp_path):
    columns = [c for c in CSV_COLUMNS if c != "amount_sats"]
    path = write_csv(tmp_path / "short.csv", history_rows(members=4, fraud_members=0), columns)
    with pytest.raises(CommandError, match="ligne 1 : colonnes manquantes : amount_sats"):
        call_command("train_fraud_model", "--from-csv", str(path))
    assert not ModelVersion.objects.exists()
    assert not any(artifacts_dir.iterdir())


def test_a_short_row_and_an_empty_file_are_clear_errors(tmp_path):
    path = tmp_path / "short_row.csv"
    path.write_text(",".join(CSV_COLUMNS) + "\nM1,2026-03-01T08:00:00+00:00,payment\n")
    with pytest.raises(TrainingError, match="ligne 2, colonne amount_sats : valeur manquante"):
        labeled_payments_from_csv(path)
    empty = write_csv(tmp_path / "empty.csv", [])
    with pytest.raises(TrainingError, match="aucune ligne"):
        labeled_payments_from_csv(empty)


def test_a_file_not_in_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (",".join(CSV_COLUMNS) + "\nM1,2026-03-01T08:00:00+00:00,payment,10,tél,Thiès,\n").encode("latin-1")
    )
    with pytest.raises(TrainingError, match="pas en UTF-8"):
        labeled_payments_from_csv(path)


def test_an_unreadable_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError):
        call_command("train_fraud_model", "--from-csv", str(tmp_path / "absent.csv"))
