"""gui.demo: the demo service makes its mailbox, and again once it was emptied."""

from __future__ import annotations

from gui.demo import DemoService


def test_an_emptied_demo_mailbox_is_made_again(tmp_path):
    demo = DemoService(tmp_path / "demo", count=3, large_sizes=(), rate=None, drop=0.0)
    try:
        demo.start()
    finally:
        demo.stop()
    files = [p for sub in ("new", "cur") for p in (demo.mailbox / sub).iterdir()]
    assert len(files) == 3
    for p in files:  # as if the user committed the deletion of everything
        p.unlink()
    try:
        account = demo.start()
    finally:
        demo.stop()
    assert account.user == "demo" and account.allow_plaintext
    assert len([p for sub in ("new", "cur") for p in (demo.mailbox / sub).iterdir()]) == 3
