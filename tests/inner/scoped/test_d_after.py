"""The session-scoped note, without module c's user."""

from warehouse import emails, notes


def test_d1_only_the_session_note(late_note):
    assert notes() == ["late"]
    assert emails() == []
