"""The user's intent alone: one lock, snapshots, one-shot requests taken once."""

from __future__ import annotations

import threading

from core.engine.intent import Intent


def test_download_pause_cancel_keep_the_users_order_and_sets() -> None:
    intent = Intent()
    intent.download(["a", "b", "c"])
    intent.pause(["b"], active=[])
    w = intent.snapshot()
    assert w.connected and w.queue == ("a", "c") and w.paused == {"b"}
    intent.cancel(None, active=["x"])
    assert intent.take_cancelled() == {"a", "b", "c", "x"}
    assert intent.take_cancelled() == set()
    assert intent.snapshot().queue == () and intent.snapshot().paused == frozenset()


def test_download_all_becomes_queue_entries_once_the_list_is_known() -> None:
    intent = Intent()
    intent.download(None)
    intent.pause(["b"], active=[])
    intent.download(None)  # "download all" also resumes what was paused
    intent.expand_download_all(["a", "b"])
    intent.expand_download_all(["z"])  # taken once
    assert intent.snapshot().queue == ("a", "b")


def test_marks_are_taken_once_and_open_no_session() -> None:
    intent = Intent()
    intent.mark(["a"], True)
    intent.mark(["a"], False)
    assert not intent.snapshot().connected
    assert intent.take_marks() == [(frozenset({"a"}), True), (frozenset({"a"}), False)]
    assert intent.take_marks() == []


def test_disconnect_and_shutdown_call_the_stop_hook_outside_the_lock() -> None:
    calls: list[bool] = []
    intent: Intent

    def hook(shutdown: bool) -> None:
        intent.snapshot()  # would deadlock if called under the lock
        calls.append(shutdown)

    intent = Intent(on_stop=hook)
    intent.want(commit=True)
    intent.disconnect()
    w = intent.snapshot()
    assert w.disconnect and not w.connected and not w.commit
    intent.shutdown()
    assert calls == [False, True]


def test_wait_returns_on_a_change_from_another_thread() -> None:
    intent = Intent()
    assert intent.wait(0.0) is False
    thread = threading.Thread(target=intent.want)
    thread.start()
    assert intent.wait(10) is True
    thread.join()
    assert intent.snapshot().connected
