import pandas as pd
import pytest

from ann_bench.data import fetch, load
from ann_bench.data.parse import title_year
from ann_bench.errors import DataError

from movielens_fixtures import synthetic, variant_for, write_release, zip_release


@pytest.mark.parametrize("layout", ["csv", "dat", "100k"])
def test_each_layout_parses_to_the_same_tables(tmp_path, layout):
    folder = write_release(tmp_path, layout)
    src = fetch(variant_for(zip_release(folder), layout), cache_dir=tmp_path / "c", source=folder.parent / "ml-test.zip")
    ml = load(src)
    rows, movies = synthetic()
    assert len(ml.ratings) == len(rows)
    assert list(ml.ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(ml.movies) == len(movies)
    first = ml.movies.set_index("item_id").loc[1]
    assert first["title"] == "Movie 1 (1980)" and first["year"] == 1980 and first["genres"] == "Action"
    if layout == "csv":
        assert ml.users is None
    else:
        assert set(ml.users.columns) == {"user_id", "gender", "age", "occupation"}
        assert len(ml.users) == ml.ratings["user_id"].nunique()


def test_title_year_variants():
    assert title_year("Heat (1995)") == 1995
    assert title_year("Babylon 5") is None
    assert title_year("Fawlty Towers (1975-1979)") == 1975
    assert title_year("Bad Title (1999) ") == 1999


def test_no_genres_marker_becomes_empty(tmp_path):
    folder = write_release(tmp_path, "csv")
    text = (folder / "movies.csv").read_text().replace(",Action\n", ",(no genres listed)\n", 1)
    (folder / "movies.csv").write_text(text)
    ml = load(fetch(variant_for(zip_release(folder), "csv"), cache_dir=tmp_path / "c", source=folder))
    assert (ml.movies["genres"] == "").sum() == 1


def test_garbled_ratings_file_is_a_clear_error(tmp_path):
    folder = write_release(tmp_path, "csv")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,abc,x,y\n")
    with pytest.raises(DataError, match="ratings.csv"):
        load(fetch(variant_for(zip_release(folder), "csv"), cache_dir=tmp_path / "c", source=folder))


def test_real_ml_latest_small_and_ml_100k(shared_movielens, tmp_path):
    from ann_bench.data import get_variant

    small = load(fetch(get_variant("ml-latest-small"), cache_dir=tmp_path, source=shared_movielens / "ml-latest-small"))
    assert (len(small.ratings), small.ratings["user_id"].nunique(), len(small.movies)) == (100_836, 610, 9_742)
    years = pd.to_datetime(small.ratings["timestamp"], unit="s").dt.year
    assert (years.min(), years.max()) == (1996, 2018)
    k100 = load(fetch(get_variant("ml-100k"), cache_dir=tmp_path, source=shared_movielens / "ml-100k"))
    assert (len(k100.ratings), k100.ratings["user_id"].nunique(), len(k100.movies)) == (100_000, 943, 1_682)
    assert k100.users["gender"].isin(["M", "F"]).all()
