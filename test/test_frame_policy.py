"""The frame policy on a timeline: which frame each command is grounded on."""

from zsris_ros.frame_policy import FramePairer

SECOND = 1_000_000_000


def test_latest_takes_the_newest_frame_before_the_command():
    pairer = FramePairer()
    pairer.frame('a', 0, SECOND)
    pairer.frame('b', 10, SECOND)
    pairing = pairer.command(20, 'latest')
    pairer.frame('c', 30, SECOND)
    assert (pairing.decided, pairing.frame) == (True, 'b')


def test_next_takes_the_first_frame_after_the_command_however_many_follow():
    pairer = FramePairer()
    pairer.frame('a', 0, SECOND)
    first, second = pairer.command(5, 'next'), pairer.command(6, 'next')
    assert not first.decided
    answered = pairer.frame('b', 10, SECOND)
    pairer.frame('c', 20, SECOND)
    assert answered == [first, second]
    assert first.frame == second.frame == 'b'


def test_latest_before_any_frame_waits_for_the_first():
    pairer = FramePairer()
    pairing = pairer.command(0, 'latest')
    pairer.frame('a', SECOND // 2, SECOND)
    assert pairing.frame == 'a'


def test_a_command_waiting_longer_than_the_timeout_has_no_frame():
    pairer = FramePairer()
    early, late = pairer.command(0, 'next'), pairer.command(2 * SECOND, 'next')
    answered = pairer.frame('a', 2 * SECOND + 1, SECOND)
    assert answered == [early, late]
    assert (early.decided, early.frame) == (True, None)
    assert late.frame == 'a'


def test_cancel_and_flush():
    pairer = FramePairer()
    kept, dropped = pairer.command(0, 'next'), pairer.command(1, 'next')
    pairer.cancel(dropped)
    assert pairer.flush() == [kept]
    assert kept.decided and kept.frame is None and not dropped.decided
