"""XGBoost and LightGBM bundles load from their own files and answer as the fitted model does;
a file that disagrees with its manifest, or is not a model, is a BundleError."""

import subprocess
import sys

import numpy as np
import pytest

from model_service.flavors import BoostedClassifier, load_model
from model_service.models.bundles import BundleError
from shared_schemas.manifest import FeatureSpec
from tests.model_service import flavor_models as fm


@pytest.mark.parametrize("raw_format", ["json", "ubj"])
def test_an_xgboost_classifier_answers_with_the_manifests_classes(raw_format: str) -> None:
    model = fm.xgb_classifier()
    data = fm.xgb_bytes(model, raw_format)
    loaded = load_model(
        fm.manifest("xgboost", data, 4, fm.IRIS_CLASSES, f"model.{raw_format}"), data
    )
    rows = fm.fresh_rows(fm.iris()[0])
    assert isinstance(loaded, BoostedClassifier)
    assert loaded.predict(rows).tolist() == [fm.IRIS_CLASSES[i] for i in model.predict(rows)]
    assert np.allclose(loaded.predict_proba(rows), model.predict_proba(rows))
    assert loaded.classes_.tolist() == fm.IRIS_CLASSES


def test_a_binary_xgboost_classifier_gives_both_probabilities() -> None:
    model = fm.xgb_classifier(binary=True)
    data = fm.xgb_bytes(model)
    loaded = load_model(fm.manifest("xgboost", data, 4, [0, 1]), data)
    assert isinstance(loaded, BoostedClassifier)
    rows = fm.fresh_rows(fm.iris()[0])
    assert loaded.predict(rows).tolist() == np.asarray(model.predict(rows)).tolist()
    assert loaded.predict_proba(rows).shape == (len(rows), 2)
    assert np.allclose(loaded.predict_proba(rows), model.predict_proba(rows))


def test_an_xgboost_regressor_answers_as_fitted() -> None:
    model = fm.xgb_regressor()
    data = fm.xgb_bytes(model, "json")
    loaded = load_model(fm.manifest("xgboost", data, 10, None, "model.json"), data)
    rows = fm.fresh_rows(fm.diabetes()[0])
    assert not hasattr(loaded, "predict_proba")
    assert np.array_equal(loaded.predict(rows), model.predict(rows))


@pytest.mark.parametrize("binary", [False, True])
def test_a_lightgbm_classifier_answers_its_own_labels(binary: bool) -> None:
    model = fm.lgb_classifier(binary)
    data = fm.lgb_bytes(model)
    classes = list(model.classes_)
    loaded = load_model(fm.manifest("lightgbm", data, 4, classes), data)
    assert isinstance(loaded, BoostedClassifier)
    rows = fm.fresh_rows(fm.iris()[0])
    assert loaded.predict(rows).tolist() == np.asarray(model.predict(rows)).tolist()
    assert np.allclose(loaded.predict_proba(rows), model.predict_proba(rows))


def test_a_lightgbm_regressor_answers_as_fitted() -> None:
    model = fm.lgb_regressor()
    data = fm.lgb_bytes(model)
    loaded = load_model(fm.manifest("lightgbm", data, 10, None), data)
    rows = fm.fresh_rows(fm.diabetes()[0])
    assert np.allclose(loaded.predict(rows), model.predict(rows), rtol=0, atol=1e-9)


def test_rows_of_another_width_are_refused_before_the_library_sees_them() -> None:
    data = fm.lgb_bytes(fm.lgb_regressor())
    loaded = load_model(fm.manifest("lightgbm", data, 10, None), data)
    with pytest.raises(ValueError, match="10 features"):
        loaded.predict(np.zeros((2, 9)))


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_a_manifest_with_another_number_of_features_is_refused(flavor: str) -> None:
    model = fm.xgb_classifier() if flavor == "xgboost" else fm.lgb_classifier()
    data = fm.xgb_bytes(model) if flavor == "xgboost" else fm.lgb_bytes(model)
    with pytest.raises(BundleError, match="the model takes 4 features; the manifest lists 3"):
        load_model(fm.manifest(flavor, data, 3, fm.IRIS_CLASSES), data)


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_a_manifest_with_another_number_of_classes_is_refused(flavor: str) -> None:
    model = fm.xgb_classifier() if flavor == "xgboost" else fm.lgb_classifier()
    data = fm.xgb_bytes(model) if flavor == "xgboost" else fm.lgb_bytes(model)
    with pytest.raises(BundleError, match="the model has 3 classes; the manifest lists 2"):
        load_model(fm.manifest(flavor, data, 4, ["a", "b"]), data)


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_a_regression_model_is_not_served_as_a_classifier(flavor: str) -> None:
    model = fm.xgb_regressor() if flavor == "xgboost" else fm.lgb_regressor()
    data = fm.xgb_bytes(model) if flavor == "xgboost" else fm.lgb_bytes(model)
    with pytest.raises(BundleError, match="is a regression; the manifest says classification"):
        load_model(fm.manifest(flavor, data, 10, [0, 1]), data)


def test_category_features_and_dataframe_input_are_refused_for_now() -> None:
    data = fm.lgb_bytes(fm.lgb_classifier())
    base = fm.manifest("lightgbm", data, 4, fm.IRIS_CLASSES)
    colour = FeatureSpec(name="colour", type="category", categories=["red", "blue"])
    with_text = base.model_copy(update={"features": [*base.features[:3], colour]})
    with pytest.raises(BundleError, match="category features are not supported yet: colour"):
        load_model(with_text, data)
    with pytest.raises(BundleError, match="as an ndarray, not a DataFrame"):
        load_model(base.model_copy(update={"input_format": "dataframe"}), data)


def test_an_unsupported_objective_is_named() -> None:
    rows, target = fm.iris()
    import xgboost  # noqa: PLC0415

    ranker = xgboost.XGBRanker(n_estimators=2).fit(rows, target, qid=np.zeros(len(rows)))
    data = fm.xgb_bytes(ranker)
    with pytest.raises(BundleError, match="the objective rank:ndcg is not supported"):
        load_model(fm.manifest("xgboost", data, 4, None), data)


@pytest.mark.parametrize(
    ("flavor", "data", "reason"),
    [
        ("xgboost", b"\x00\x01garbage" * 10, "is not an XGBoost model"),
        ("xgboost", b'{"learner": {"attributes": ', "is not an XGBoost model"),
        ("xgboost", b'{"learner": {}, "version": [3, 2, 0]}', "is not an XGBoost model"),
        ("lightgbm", b"\xff\xfe not text", "it is not UTF-8 text"),
        ("lightgbm", b"tree\nversion=v4\nnum_class=abc\n", "the header lacks"),
        ("lightgbm", b"", "does not start with LightGBM's `tree` line"),
    ],
)
def test_a_file_that_is_not_a_model_is_a_bundle_error(
    flavor: str, data: bytes, reason: str
) -> None:
    classes = None if flavor == "lightgbm" else fm.IRIS_CLASSES
    with pytest.raises(BundleError, match=reason):
        load_model(fm.manifest(flavor, data, 4, classes), data)


def test_a_truncated_file_is_a_bundle_error() -> None:
    xgb = fm.xgb_bytes(fm.xgb_classifier(), "json")
    lgb = fm.lgb_bytes(fm.lgb_classifier())
    for flavor, data in (("xgboost", xgb), ("lightgbm", lgb)):
        # LightGBM's file is complete at `end of trees`: what follows is for people.
        if flavor == "lightgbm":
            ends = [data.rindex(b"Tree=") - 1, data.index(b"\nend of trees")]
        else:
            ends = [len(data) - 1]
        for cut in (len(data) // 3, len(data) // 2, *ends):
            short = data[:cut]
            with pytest.raises(BundleError):
                load_model(fm.manifest(flavor, short, 4, fm.IRIS_CLASSES), short)


def test_loading_the_package_imports_neither_library() -> None:
    code = (
        "import sys, model_service.flavors, model_service.flavors.model; "
        "print(sorted({'xgboost', 'lightgbm', 'onnxmltools'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_labels_of_mixed_kinds_keep_their_kinds() -> None:
    data = fm.lgb_bytes(fm.lgb_classifier(binary=True))
    loaded = load_model(fm.manifest("lightgbm", data, 4, [0, "yes"]), data)
    answers = set(loaded.predict(fm.fresh_rows(fm.iris()[0])).tolist())
    assert answers == {0, "yes"}
