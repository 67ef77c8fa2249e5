"""Chinese text to tokens for the classifier: jieba word segmentation, with the catalogue's keywords
added to its dictionary so "垃圾分类" stays one word."""

import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


#: keyword sets whose tokenizer is kept: each holds jieba's whole dictionary (~500k entries, ~60 MB), and a
#: new catalogue (new keywords) would otherwise keep every earlier one for good. Two: the model in use and
#: the one replacing it.
TOKENIZERS_KEPT = 2


@lru_cache(maxsize=TOKENIZERS_KEPT)
def _tokenizer(keywords: frozenset[str]) -> jieba.Tokenizer:
    # Our own tokenizer instance: jieba's global one is shared state other code could change.
    tokenizer = jieba.Tokenizer()
    for word in sorted(keywords):
        tokenizer.add_word(word, freq=20000)
    return tokenizer


def words(text: str, keywords: Iterable[str] = ()) -> list[str]:
    """Words of ``text``, punctuation dropped; digits collapse to one token (numbers are noise here)."""
    tokenizer = _tokenizer(frozenset(keywords))
    out = []
    for raw in tokenizer.lcut(normalise(text)):
        token = _PUNCT.sub("", raw)
        if not token:
            continue
        out.append("<num>" if token.isdigit() else token)
    return out
