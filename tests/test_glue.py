from dae_utils.glue import glue


def test_glue_returns_nothing_so_a_cell_ending_with_it_shows_nothing():
    assert glue("a_number", 1.5) is None


def test_glue_rejects_names_the_book_cannot_reference():
    import pytest

    with pytest.raises(ValueError, match="identifier"):
        glue("not a name", 1)


def test_numpy_scalars_are_glued_as_python_numbers_the_book_can_format():
    import numpy as np

    from dae_utils.glue import _plain

    for value, expected in ((np.float64(20.25), 20.25), (np.int64(3), 3), (np.array(0.5), 0.5), (np.bool_(True), True)):
        plain = _plain(value)
        assert plain == expected and type(plain) is type(expected)
        assert repr(plain) == repr(expected)  # what the book parses: "20.25", not "np.float64(20.25)"
    assert _plain("text") == "text"


def test_glued_looks_up_what_this_session_glued_as_colab_readers_need(monkeypatch):
    import numpy as np
    import pytest

    import dae_utils.glue
    from dae_utils.glue import glued

    monkeypatch.setattr(dae_utils.glue, "_GLUED", {})  # this test's values only
    glue("a_glued_share", np.float64(94.5))
    assert glued("a_glued_share") == 94.5 and type(glued("a_glued_share")) is float
    shares = [1.0, 2.0]
    glue("some_shares", shares)
    shares.append(3.0)  # changed after gluing: the glued value is what the book would show
    glued("some_shares").append(4.0)  # and what glued returns is a copy
    assert glued("some_shares") == [1.0, 2.0]
    assert glued() == {"a_glued_share": 94.5, "some_shares": [1.0, 2.0]}
    glue("a_glued_share", 95.0)  # glued again: the last value counts
    assert glued("a_glued_share") == 95.0
    with pytest.raises(ValueError, match="Received: name='never_glued', which no cell"):
        glued("never_glued")
    with pytest.raises(TypeError, match="Expected `name` to be a string"):
        glued(3)
