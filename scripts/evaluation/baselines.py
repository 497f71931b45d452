"""Reference predictors on the same split: TF-IDF + logistic regression, and the majority class."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline


def tfidf_logreg_proba(
    train: pd.DataFrame, y_train: np.ndarray, texts: list[list[str]], task: str, n_labels: int, seed: int = 0
) -> list[np.ndarray]:
    """Fit on the training split; return probabilities for each list of texts (columns = label ids)."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)
    logreg = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    if task == "multilabel":
        keep = y_train.sum(0) > 0  # a label never seen in training gets probability 0
        model = make_pipeline(vectorizer, OneVsRestClassifier(logreg)).fit(train["text"], y_train[:, keep])
        outputs = []
        for batch in texts:
            probs = np.zeros((len(batch), y_train.shape[1]))
            probs[:, keep] = model.predict_proba(batch)
            outputs.append(probs)
        return outputs
    model = make_pipeline(vectorizer, logreg).fit(train["text"], y_train)
    outputs = []
    for batch in texts:
        probs = np.zeros((len(batch), n_labels))
        probs[:, model.classes_] = model.predict_proba(batch)
        outputs.append(probs)
    return outputs


def majority_proba(y_train: np.ndarray, n_rows: int, task: str, n_labels: int) -> np.ndarray:
    """A constant predictor: the most frequent training class (multi-label: the most frequent label)."""
    if task == "multilabel":
        probs = np.zeros((n_rows, y_train.shape[1]))
        probs[:, int(y_train.sum(0).argmax())] = 1.0
        return probs
    probs = np.zeros((n_rows, n_labels))
    probs[:, int(np.bincount(y_train).argmax())] = 1.0
    return probs
