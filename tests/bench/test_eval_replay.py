"""The replay scorer (livewatch/evaluate.py, `livewatch eval --evidence`) on tiny hand-made inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from events import Alert, AlertEvidence, Category, Evidence, Modality, Mode, Severity
from livewatch.cli import main as cli_main
from livewatch.config import Config
from livewatch.evaluate import EvidenceClip, ReplayScore, load_evidence_corpus, score_replay
from livewatch.service import BASELINE_RULES_DIR, run_replay_eval

CF, FC = Category.COUNTERFEIT, Category.FALSE_CLAIM


def _alert(n: int, category: Category, brand: str | None, start: float, end: float, mode: Mode = Mode.ENFORCE) -> Alert:
    cue = AlertEvidence(Modality.OCR, f"cue {n}", ("高仿",), start, end, 0.9, brand=brand)
    return Alert(f"a{n}", "s", f"rule.{category.value}", 1, category, Severity.HIGH, 0.9, start, end, (cue,),
                 brand=brand, mode=mode)


def _clip(name: str, split: str, seconds: float, labels=(), traps=()) -> EvidenceClip:
    return EvidenceClip("hand", name, split, seconds, tuple(labels), tuple(traps), Path(f"{name}.jsonl"))


def _ev(text: str, start: float, end: float, modality: Modality = Modality.ASR) -> Evidence:
    return Evidence("s", modality, start, end, text, 0.9, 0.0)


@pytest.fixture()
def score() -> ReplayScore:
    score = ReplayScore()
    tuning = _clip("t1", "tuning", 1800.0, labels=[
        {"category": "counterfeit", "brand": "gucci", "start": 0.0, "end": 60.0, "modalities": ["ocr"]},
        {"category": "false_claim", "brand": None, "start": 100.0, "end": 110.0, "modalities": ["asr"]},
    ], traps=[
        {"class": "comparison", "start": 300.0, "end": 310.0, "note": ""},
        {"class": "brand_history", "start": 500.0, "end": 510.0, "note": ""},
        {"class": "best_before", "start": 900.0, "end": 910.0, "note": ""},
    ])
    alerts = [
        _alert(1, CF, "gucci", 10, 20),  # right
        _alert(2, CF, "chanel", 30, 40),  # on the counterfeit, wrong brand: false, and a brand miss
        _alert(3, CF, "chanel", 302, 305),  # false, trips the comparison trap
        _alert(4, CF, "gucci", 502, 506, Mode.SHADOW),  # false shadow alert, trips brand_history (shadow)
    ]
    evidence = [_ev("这个茶能根治高血压", 101, 105), _ev("别的话", 400, 405)]
    score_replay(tuning, alerts, {"a1": 12.0}, evidence, score)
    heldout = _clip("h1", "heldout", 3600.0)
    score_replay(heldout, [_alert(5, FC, None, 50, 55)], {}, [], score)
    return score


def test_false_alerts_per_hour_enforce_and_shadow_apart(score: ReplayScore) -> None:
    splits = score.to_dict()["splits"]
    tuning, heldout, both = splits["tuning"], splits["heldout"], splits["all"]
    assert tuning["false_alerts"] == {"enforce": 2, "shadow": 1}
    assert tuning["false_alerts_per_hour"] == {"enforce": 4.0, "shadow": 2.0}
    assert tuning["benign_minutes"] == pytest.approx((1800 - 70) / 60, abs=0.1)
    assert heldout["false_alerts_per_hour"] == {"enforce": 1.0, "shadow": 0.0}
    assert both["false_alerts"] == {"enforce": 3, "shadow": 1}
    assert both["false_alerts_per_hour"]["enforce"] == 2.0  # 3 in 1.5 h
    assert list(splits) == ["tuning", "heldout", "all"]


def test_brand_accuracy_and_precision_recall(score: ReplayScore) -> None:
    tuning = score.to_dict()["splits"]["tuning"]
    assert tuning["brand_accuracy"] == {"counterfeit_alerts_on_counterfeits": 2, "right_brand": 1, "accuracy": 0.5}
    cf = tuning["summary"]["category:counterfeit"]
    assert (cf["alerts_right"], cf["alerts_wrong"], cf["recall"]) == (1, 2, 1.0)  # shadow alerts not counted
    assert tuning["summary"]["category:false_claim"]["recall"] == 0.0
    assert score.wrong_brand[0]["brand"] == "chanel" and score.wrong_brand[0]["label_brands"] == ["gucci"]


def test_traps_and_the_lists_a_person_reads(score: ReplayScore) -> None:
    traps = score.to_dict()["splits"]["tuning"]["traps"]
    assert traps["comparison"] == {"traps": 1, "tripped": 1, "tripped_shadow": 0}
    assert traps["brand_history"] == {"traps": 1, "tripped": 0, "tripped_shadow": 1}
    assert traps["best_before"] == {"traps": 1, "tripped": 0, "tripped_shadow": 0}
    false = {(f["clip"], f["start"]): f for f in score.false_alerts}
    assert false[("t1", 302)]["traps"] == ["comparison"] and false[("t1", 302)]["mode"] == "enforce"
    assert false[("t1", 302)]["evidence"][0]["matched"] == ["高仿"]
    assert false[("h1", 50)]["split"] == "heldout"
    (missed,) = score.missed
    assert missed["category"] == "false_claim" and [e["text"] for e in missed["evidence"]] == ["这个茶能根治高血压"]


def _write_corpus(root: Path) -> Path:
    """Two clips of evidence as bench/evidence_corpus.py writes them."""
    corpus = root / "hand"

    def line(stream, modality, start, end, text, obs):
        return json.dumps(Evidence(stream, Modality(modality), start, end, text, 0.95, 0.0, observation_id=obs).to_dict(),
                          ensure_ascii=False)

    (corpus / "tuning").mkdir(parents=True)
    (corpus / "heldout").mkdir()
    (corpus / "tuning" / "t1.jsonl").write_text("\n".join([
        line("t1", "ocr", 5.0, 15.0, "Gucci 手提包 高仿 1:1", "o1"),
        line("t1", "asr", 40.0, 44.0, "今天的T恤纯棉的，喜欢可以下单", "a1"),
    ]) + "\n", encoding="utf-8")
    (corpus / "heldout" / "h1.jsonl").write_text(
        line("h1", "asr", 200.0, 204.0, "我用的是香奈儿的口红，这款只要二十九元", "a1") + "\n", encoding="utf-8")
    labels = {"clips": [
        {"file": "tuning/t1.mp4", "split": "tuning", "seconds": 360.0, "benign": False, "evidence": "tuning/t1.jsonl",
         "labels": [{"category": "counterfeit", "brand": "gucci", "start": 0.0, "end": 30.0, "modalities": ["ocr"]}],
         "products": [], "traps": []},
        {"file": "heldout/h1.mp4", "split": "heldout", "seconds": 360.0, "benign": True, "evidence": "heldout/h1.jsonl",
         "labels": [], "products": [], "traps": [{"class": "comparison", "start": 199.0, "end": 205.0, "note": ""}]},
        {"file": "heldout/h2.mp4", "split": "heldout", "seconds": 360.0, "benign": True, "labels": [], "traps": []},
    ]}
    (corpus / "labels.json").write_text(json.dumps(labels, ensure_ascii=False), encoding="utf-8")
    return corpus


def test_replay_of_stored_evidence_end_to_end(tmp_path: Path) -> None:
    corpus = _write_corpus(tmp_path)
    assert [c.name for c in load_evidence_corpus(tmp_path)] == ["t1", "h1"]  # h2: not scanned yet
    out = tmp_path / "eval.json"
    result = run_replay_eval(Config(), [corpus], rules_dir=BASELINE_RULES_DIR, out=out)
    assert json.loads(out.read_text(encoding="utf-8"))["clips"] == 2
    assert set(result["results"]) == {"rules", "baseline"}
    for name in ("rules", "baseline"):
        splits = result["results"][name]["splits"]
        assert splits["tuning"]["summary"]["category:counterfeit"]["recall"] == 1.0
        assert splits["tuning"]["false_alerts"]["enforce"] == 0
        # A brand named in passing beside a cheap price: today's rules raise a false counterfeit alert.
        assert splits["heldout"]["false_alerts"]["enforce"] == 1
        assert splits["heldout"]["false_alerts_per_hour"]["enforce"] == 10.0
        assert splits["heldout"]["traps"]["comparison"]["tripped"] == 1
        (false,) = result["results"][name]["false_alerts"]
        assert false["brand"] == "chanel" and "香奈儿" in false["evidence"][0]["text"]


def test_eval_command_with_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _write_corpus(tmp_path)
    out = tmp_path / "eval.json"
    code = cli_main(["eval", "--evidence", str(corpus), "--rules", str(BASELINE_RULES_DIR),
                     "--baseline-rules", "none", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text(encoding="utf-8"))
    assert set(result["results"]) == {"rules"}
    assert "false alerts/h (enforce)" in capsys.readouterr().out


def test_trap_counterfactuals_blame_products_and_boundaries_not_their_neighbours() -> None:
    """A toy rule (brand on screen + a cheap price anywhere in the evidence given) shows what is blamed."""
    evidence = [
        _ev("Chanel 链条包", 0, 30, Modality.OCR), _ev("¥36800", 0, 30, Modality.OCR),  # genuine, full price
        _ev("纯棉T恤", 30, 60, Modality.OCR), _ev("¥49", 30, 60, Modality.OCR),  # cheap, no brand
        _ev("Gucci 丝绒口红", 60, 90, Modality.OCR), _ev("¥370", 60, 90, Modality.OCR),  # genuine lipstick
        _ev("Prada 钱包", 90, 120, Modality.OCR), _ev("¥4600", 90, 120, Modality.OCR),  # genuine, full price
    ]
    floors = {"Chanel": ("chanel", 900), "Gucci": ("gucci", 600), "Prada": ("prada", 750)}

    def toy_rules(subset: list) -> list[Alert]:
        prices = [(float(e.text[1:]), e) for e in subset if e.text.startswith("¥")]
        alerts = []
        for e in subset:
            for word, (brand, floor) in floors.items():
                cheap = [p for amount, p in prices if amount < floor]
                if word in e.text and cheap:
                    start, end = min(e.media_start, *(p.media_start for p in cheap)), max(e.media_end, *(p.media_end for p in cheap))
                    alerts.append(_alert(len(alerts), CF, brand, start, end))
        return alerts

    def at(boundary: float, brand: str) -> dict:
        return {"class": "cross_product_join", "start": boundary - 10, "end": boundary + 10, "at": boundary,
                "brand": brand, "note": ""}

    products = tuple({"start": s, "end": s + 30.0} for s in (0.0, 30.0, 60.0, 90.0))
    traps = (
        at(30.0, "chanel"),  # Chanel's card + the T-shirt's price: a join
        {"class": "genuine_low_price_category", "start": 60.0, "end": 90.0, "brand": "gucci", "note": ""},
        {"class": "authorised_store", "start": 90.0, "end": 120.0, "brand": "prada", "note": ""},
        at(90.0, "prada"),  # Prada's card after the lipstick at ¥370 (< 750): a join too
    )
    clip = EvidenceClip("hand", "p1", "heldout", 120.0, (), traps, Path("p1.jsonl"), products)

    def windowed(subset: list) -> list[Alert]:
        # A rule looking 30 s back: evidence further apart is never joined.
        return [a for a in toy_rules(subset) if a.media_end - a.media_start <= 60]

    from livewatch.evaluate import trap_counterfactuals

    tripped = trap_counterfactuals(clip, evidence, windowed)
    assert tripped == {0: {"enforce"}, 1: {"enforce"}, 3: {"enforce"}}  # the authorised store alone is fine


def test_a_detector_scanned_again_is_spliced_in_where_a_scan_would_have_produced_it() -> None:
    from bench.evidence_corpus import splice

    def seen(text: str, start: float, end: float, event: str) -> Evidence:
        return Evidence("s", Modality.OCR, start, end, text, 0.9, 0.0, details={"event": event})

    card, card_end, next_card = seen("¥69", 8.0, 8.0, "start"), seen("¥69", 8.0, 20.0, "end"), seen("¥59", 22.0, 22.0, "start")
    said_on_card, said_at_its_end, said_late = _ev("69元", 9.0, 12.0), _ev("还有吗", 19.0, 20.5), _ev("59元", 30.0, 31.0)
    out = splice([card, card_end, next_card], [said_late, said_at_its_end, said_on_card])
    assert out == [card, said_on_card, said_at_its_end, card_end, next_card, said_late]
    # produced by the same frame: in the order the pipeline reports a frame (OCR before logos),
    # whichever detector was scanned again
    logo_on_card = Evidence("s", Modality.LOGO, 8.0, 8.0, "Gucci", 0.9, 0.0, details={"event": "start"})
    assert splice([card, card_end], [logo_on_card]) == [card, logo_on_card, card_end]
    logo_on_next = Evidence("s", Modality.LOGO, 21.0, 21.0, "Dior", 0.9, 0.0, details={"event": "start"})
    next_at_21 = seen("¥27500", 21.0, 21.0, "start")
    assert splice([logo_on_next], [card, card_end, next_at_21]) == [card, card_end, next_at_21, logo_on_next], \
        "the previous card's end and the next card, both read on the logo's frame, come before the logo"


def test_a_piracy_label_names_its_protected_content() -> None:
    """A re-broadcast alert pinned on another show than the one re-broadcast is false, and a miss."""

    def piracy(n: int, content: str) -> Alert:
        run = AlertEvidence(Modality.FINGERPRINT, content, (content,), 0.0, 20.0, 0.9)
        return Alert(f"p{n}", "s", "piracy.rebroadcast", 1, Category.PIRACY, Severity.CRITICAL, 0.9, 0.0, 20.0, (run,))

    label = {"category": "piracy", "brand": None, "content": "show-1", "start": 0.0, "end": 20.0,
             "modalities": ["fingerprint"]}
    score = ReplayScore()
    score_replay(_clip("right", "piracy-tuning", 20.0, labels=[label]), [piracy(1, "show-1")], {}, [], score)
    score_replay(_clip("wrong", "piracy-tuning", 20.0, labels=[label]), [piracy(2, "show-2")], {}, [], score)
    row = score.to_dict()["splits"]["piracy-tuning"]["summary"]["category:piracy"]
    assert (row["alerts_right"], row["alerts_wrong"], row["violations_found"], row["violations_missed"]) == (1, 1, 1, 1)
    assert [m["clip"] for m in score.missed] == ["wrong"]
