"""Issue 11, pure parts: masks, phone and ID number validation, free-text redaction, the vault's sealing."""

import base64
import logging

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap
from stdnum import luhn
from stdnum.cn import ric

from cityloop.common.contract.callbacks import CallbackRecorded, Satisfaction
from cityloop.common.contract.emitter import Emitter
from cityloop.common.contract.lifecycle import DeptStep, Progress
from cityloop.common.contract.models import TicketStatus
from cityloop.common.logging import RedactingFilter, redact_personal_data
from cityloop.common.personal.masking import mask_address, mask_card
from cityloop.common.personal.redaction import redact, redact_fields
from cityloop.common.personal.sealing import Sealed, blind_index, contact_ref, open_sealed, seal, text_row
from cityloop.common.personal.validation import id_number, phone_e164
from cityloop.common.personal.vault_keys import Keyring, VaultKeyError
from cityloop.feedback.callbacks.models import CallbackOutcome
from cityloop.intake.open311.rules import read_form, to_ticket
from cityloop.intake.settings import IntakeSettings
from cityloop.intake.vault.personal import Personal, keep_text


def valid_id(first17: str = "31010119900101123") -> str:
    return first17 + ric.calc_check_digit(first17 + "0")  # (it skips the last character)


ID = valid_id()
CARD = "6222021234567890128"  # passes Luhn


def test_card_fixture_is_a_luhn_number() -> None:
    assert luhn.is_valid(CARD)


def test_phone_numbers_are_validated_and_normalised_for_china() -> None:
    assert phone_e164("13812345678") == "+8613812345678"
    assert phone_e164("+86 138-1234-5678") == "+8613812345678"
    assert phone_e164("021-62345678") == "+862162345678"
    for bad in ("12345", "call me", "10012345678", "+1 202 555 01"):
        with pytest.raises(ValueError, match="phone"):
            phone_e164(bad)


def test_id_numbers_need_a_valid_checksum_and_birth_date() -> None:
    assert id_number(ID.lower()) == ID.upper()
    wrong_check = ID[:17] + ("0" if ID[17] != "0" else "1")
    for bad in (wrong_check, "12345", "310101199013011234"):
        with pytest.raises(ValueError, match="resident ID"):
            id_number(bad)


def test_addresses_are_masked_down_to_the_road_never_the_house_number() -> None:
    assert mask_address("浦东新区花木街道锦绣路1001弄7号601室") == "浦东新区花木街道锦绣路***"
    assert mask_address("黄浦区南京东路街道贵州居委会三号楼") == "黄浦区南京东路街道贵州居委会***"
    assert mask_address("浦东新区花木街道") == "浦东新区花木街道"
    assert mask_address("锦绣路１００１号") == "锦绣路***"  # full-width digits too


def test_free_text_loses_phones_ids_cards_and_emails_and_keeps_the_rest() -> None:
    text = (
        f"市民张先生(电话13812345678，座机021-62345678)身份证{ID}，"
        f"银行卡{CARD}被扣款，邮箱zhang.san@example.cn。订单20261201，门牌1001号"
    )
    out = redact(text)
    for secret in ("13812345678", "62345678", ID, CARD, "zhang.san@example.cn"):
        assert secret not in out
    assert "138****5678" in out
    assert ID[:3] + "*" * 14 + ID[-1] in out
    assert mask_card(CARD) in out
    assert out.count("*") > 20
    assert "z***@example.cn" in out
    assert "订单20261201" in out
    assert "1001号" in out
    assert redact("垃圾三天没人清运") == "垃圾三天没人清运"
    assert redact(out) == out  # masked forms are not found again
    # an ID number with a wrong check digit is no ID number (nor a phone): left as typed
    assert redact(f"编号{ID[:17]}0") == f"编号{ID[:17]}0"
    assert redact("T20261122-0000123, A-13812345678abcd") == "T20261122-0000123, A-13812345678abcd"  # ids
    assert redact("0086-13912345678 或 (021)62345678") == "139****5678 或 021****5678"


def test_redact_fields_reaches_every_free_text_field_at_any_depth() -> None:
    value = {"summary": "call 13812345678", "detail": {"note": "13812345678", "phone": "13812345678"}, "n": [1]}
    assert redact_fields(value) == {
        "summary": "call 138****5678",
        "detail": {"note": "138****5678", "phone": "13812345678"},  # not free text: not this function's job
        "n": [1],
    }


def test_every_event_is_redacted_where_it_is_built() -> None:
    emitter = Emitter(source="/test", actor="test")
    event = emitter.lifecycle(
        "cityloop.ticket.progress",
        "T1",
        TicketStatus.ACCEPTED,
        "progress: 联系13812345678",
        Progress(dept_code="d", assignment_id="A-1", note=f"已联系市民13812345678，身份证{ID}"),
    )
    assert event.data is not None
    text = str(event.data)
    assert "13812345678" not in text
    assert ID not in text
    assert event.data["detail"]["note"] == f"已联系市民138****5678，身份证{ID[:3]}{'*' * 14}{ID[-1]}"


KEYRING = Keyring.from_secrets(key_id="k1", key="k1-secret-" + "x" * 32, index_key="index-secret-" + "y" * 32)


def test_sealing_round_trips_and_binds_the_row() -> None:
    sealed = seal(KEYRING, b'{"phone": "13812345678"}', row="T1")
    assert b"13812345678" not in sealed.sealed + sealed.wrapped_key
    assert open_sealed(KEYRING, sealed, row="T1") == b'{"phone": "13812345678"}'
    with pytest.raises(InvalidTag):
        open_sealed(KEYRING, sealed, row="T2")  # copied onto another row: does not open
    tampered = Sealed(sealed.key_id, sealed.wrapped_key, sealed.sealed[:-1] + bytes([sealed.sealed[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        open_sealed(KEYRING, tampered, row="T1")
    assert seal(KEYRING, b"same", row="T1").sealed != seal(KEYRING, b"same", row="T1").sealed  # fresh key+nonce


def test_rotation_keeps_old_rows_readable_and_seals_new_ones_with_the_new_key() -> None:
    old = seal(KEYRING, b"secret", row="T1")
    rotated = Keyring.from_secrets(
        key_id="k2",
        key="k2-secret-" + "z" * 32,
        index_key="index-secret-" + "y" * 32,
        previous={"k1": "k1-secret-" + "x" * 32},
    )
    assert open_sealed(rotated, old, row="T1") == b"secret"
    new = seal(rotated, b"secret", row="T1")
    assert new.key_id == "k2"
    with pytest.raises(VaultKeyError):
        open_sealed(KEYRING, new, row="T1")  # the old keyring does not know k2
    wrong = Keyring.from_secrets(key_id="k1", key="another-secret-" + "w" * 32, index_key="i" * 32)
    with pytest.raises(InvalidUnwrap):
        open_sealed(wrong, old, row="T1")


def test_blind_index_and_contact_ref_are_keyed_and_format_blind() -> None:
    assert blind_index(KEYRING, phone_e164("13812345678")) == blind_index(KEYRING, phone_e164("+86 138 1234 5678"))
    other = Keyring.from_secrets(key_id="k1", key="k1-secret-" + "x" * 32, index_key="other-index-" + "v" * 32)
    assert blind_index(KEYRING, "+8613812345678") != blind_index(other, "+8613812345678")
    ref = contact_ref(KEYRING, "+8613812345678", "T1")
    assert ref == contact_ref(KEYRING, "+8613812345678", "T2")  # repeat caller
    assert ref.startswith("C-")
    assert "5678" not in ref
    assert contact_ref(KEYRING, None, "T1") != contact_ref(KEYRING, None, "T2")


def test_the_vault_keeps_full_text_and_gives_out_masked_forms() -> None:
    personal = Personal(name="王小明", phone="13812345678", id_number=ID, address="锦绣路1001号", email="a@b.cn")
    assert keep_text(personal, "description", "请回电13812345678") == "请回电138****5678"
    assert keep_text(personal, "note", "无个人信息") == "无个人信息"
    assert personal.texts == {"description": "请回电13812345678"}
    assert personal.masked() == {
        "name": "王**",
        "phone": "138****5678",
        "id_number": ID[:3] + "*" * 14 + ID[-1],
        "address": "锦绣路***",
        "email": "a***@b.cn",
    }
    assert personal.revealed() == ["name", "phone", "id_number", "address", "email", "description"]


def test_production_refuses_the_development_vault_keys() -> None:
    with pytest.raises(ValueError, match="VAULT_KEY"):
        IntakeSettings(environment="production", jwt_secret="j" * 40, internal_secret="i" * 40)
    with pytest.raises(ValueError, match="32"):
        IntakeSettings(vault_key="short")
    ok = IntakeSettings(
        environment="production",
        jwt_secret="j" * 40,
        internal_secret="i" * 40,
        vault_key="v" * 40,
        vault_index_key="x" * 40,
    )
    assert ok.keyring().current == "dev1"


def test_log_lines_are_redacted_structlog_and_stdlib_alike() -> None:
    line = redact_personal_data(None, "info", {"event": f"lookup {ID}", "caller": "13812345678", "n": 13812345678})
    assert line == {"event": f"lookup {ID[:3]}{'*' * 14}{ID[-1]}", "caller": "138****5678", "n": 13812345678}
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "caller %s wrote %s", ("13812345678", "hi"), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "caller 138****5678 wrote hi"


def test_free_text_is_redacted_on_the_event_and_sealed_beside_it_for_the_vault() -> None:
    intake = Keyring.from_secrets(key_id="k2", key="b" * 40, index_key="i" * 40, previous={"k1": "a" * 40})
    router = Keyring.sealing_only(key_id="k2", key="b" * 40)
    emitter = Emitter(source="/cityloop/router", actor="router")
    step = DeptStep(dept_code="d", assignment_id="a", note=f"已联系13812345678，身份证{ID}")
    assert emitter.lifecycle("cityloop.ticket.accepted", "T1", None, "s", step).data.get("sealed") is None
    emitter.keep_full_text(router)
    event = emitter.lifecycle("cityloop.ticket.accepted", "T1", None, "s", step)
    assert event.data["detail"]["note"] == f"已联系138****5678，身份证{ID[:3]}{'*' * 14}{ID[-1]}"
    [text] = event.data["sealed"]
    assert (text["path"], text["key_id"]) == ("detail.note", "k2")
    received = Sealed("k2", base64.b64decode(text["wrapped_key"]), base64.b64decode(text["sealed"]))
    assert open_sealed(intake, received, row=text_row("T1", "detail.note")).decode() == step.note
    with pytest.raises(InvalidTag):  # bound to its ticket and field
        open_sealed(intake, received, row=text_row("T2", "detail.note"))
    plain = DeptStep(dept_code="d", assignment_id="a", note="已到场")
    assert emitter.lifecycle("cityloop.ticket.accepted", "T1", None, "s", plain).data.get("sealed") is None
    with pytest.raises(VaultKeyError):  # a sealing service has no blind index key
        blind_index(router, "+8613812345678")


def test_a_callback_comment_keeps_its_full_text_only_until_the_event() -> None:
    answer = CallbackOutcome(solved=True, satisfaction=Satisfaction.SATISFIED, note="有事打13812345678")
    assert answer.note == "有事打13812345678"  # feedback stores and lists it redacted (callbacks/flows.py)
    detail = CallbackRecorded(callback_id=1, solved=True, satisfaction=Satisfaction.SATISFIED, comment=answer.note)
    emitter = Emitter(source="/cityloop/feedback", actor="feedback")
    emitter.keep_full_text(Keyring.sealing_only(key_id="k", key="c" * 40))
    event = emitter.lifecycle("cityloop.callback.recorded", "T1", None, f"recorded — {answer.note}", detail)
    assert event.data["detail"]["comment"] == event.data["summary"][-14:] == "有事打138****5678"
    assert [t["path"] for t in event.data["sealed"]] == ["detail.comment"]


def test_open311_refuses_a_phone_that_is_no_phone_naming_the_spec_argument() -> None:
    form = read_form([("lat", "31.2"), ("long", "121.4"), ("phone", "12345"), ("description", "路灯不亮")])
    assert to_ticket(form, "s", "名") == (None, ["phone: not a valid phone number"])
