"""core/masking.py and the model's use of it: a known secret becomes *** in step logs (rawjson and
plain), step names, step errors, warnings, non-progress lines and the build's error text, so the
CLI, the dashboard, reports and history never show it. Short values are never masked."""

from __future__ import annotations

import base64
import json

from railpack_tui.core.masking import MASK, Masker
from railpack_tui.core.model import BuildModel
from railpack_tui.core.report import render_table

SECRET = "s3cr3t-Pa55word"
T0 = "2026-12-03T16:00:00.000000000Z"
T1 = "2026-12-03T16:00:01.000000000Z"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_masker_replaces_every_occurrence_longest_first():
    m = Masker([SECRET, SECRET[:6], "", None, "ab"])
    assert m.text(f"a {SECRET} b {SECRET}") == f"a {MASK} b {MASK}"
    assert m.data(f"x{SECRET}y".encode()) == f"x{MASK}y".encode()
    assert m.text(f"only {SECRET[:6]}") == f"only {MASK}"
    assert m.text("ab stays: shorter than 4 characters") == "ab stays: shorter than 4 characters"
    assert SECRET not in repr(m)
    assert not Masker() and Masker().text(SECRET) == SECRET


def _rawjson_build(secret: str) -> list[str]:
    d = "sha256:1"
    return [
        json.dumps({"vertexes": [{"digest": d, "name": f'[1/1] RUN ["sh", "-c", "echo {secret}"]', "started": T0}]}),
        json.dumps({"logs": [{"vertex": d, "stream": 1, "data": b64(f"token={secret}\n"), "timestamp": T0}]}),
        json.dumps({"warnings": [{"vertex": d, "level": 1, "short": b64(f"leaked {secret}"), "detail": [b64(secret)]}]}),
        json.dumps({"vertexes": [{"digest": d, "name": f'[1/1] RUN ["sh", "-c", "echo {secret}"]', "started": T0,
                                  "completed": T1, "error": f"process failed: {secret}"}]}),
        f"error: failed to solve: {secret} did not complete",
    ]


def test_model_masks_everything_it_keeps():
    m = BuildModel("rawjson")
    m.masker = Masker([SECRET])
    m.feed_lines(_rawjson_build(SECRET))
    m.finish(1)
    report = m.to_report()
    text = json.dumps(report) + render_table(report) + "\n".join(m.output)
    [step] = m.steps
    assert step.logs.lines() == [f"token={MASK}"]
    assert MASK in step.name and MASK in step.error and MASK in m.error
    assert step.warnings[0]["short"] == f"leaked {MASK}" and step.warnings[0]["detail"] == [MASK]
    assert SECRET not in text
    assert len(m.vertexes) == 1  # the masked name matches on re-send: one step, not two


def test_model_without_a_masker_keeps_the_text():
    m = BuildModel("rawjson")
    m.feed_lines(_rawjson_build("plain-value"))
    m.finish(1)
    assert m.steps[0].logs.lines() == ["token=plain-value"]


def test_plain_progress_is_masked_too():
    m = BuildModel("plain")
    m.masker = Masker([SECRET])
    m.feed_lines([f"#1 [1/1] RUN echo {SECRET}", f"#1 0.101 token={SECRET}", "#1 DONE 0.2s"])
    m.finish(0)
    assert SECRET not in json.dumps(m.to_report())
    assert m.steps[0].logs.lines() == [f"token={MASK}"]


def test_progress_file_lines_are_masked_and_otherwise_untouched():
    from railpack_tui.core.masking import progress_line

    m = Masker([SECRET])
    lines = _rawjson_build(SECRET)
    written = [progress_line(m, line) for line in lines]
    assert not any(SECRET in w for w in written)
    assert not any(b64(SECRET) in w or b64(f"token={SECRET}\n") in w for w in written)
    replay = BuildModel("rawjson")
    replay.feed_lines(written)
    assert replay.steps[0].logs.lines() == [f"token={MASK}"]
    clean = json.dumps({"logs": [{"vertex": "v", "stream": 1, "data": b64("nothing to hide\n")}]})
    assert progress_line(m, clean) == clean  # byte for byte when there is nothing to mask
    assert progress_line(Masker(), lines[1]) == lines[1]
