from dae_utils.glue import glue


def test_glue_returns_nothing_so_a_cell_ending_with_it_shows_nothing():
    assert glue("a_number", 1.5) is None


def test_glue_rejects_names_the_book_cannot_reference():
    import pytest

    with pytest.raises(ValueError, match="identifier"):
        glue("not a name", 1)
