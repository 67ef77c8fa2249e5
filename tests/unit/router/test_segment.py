"""Segmentation keeps the catalogue's keywords whole, and keeps a bounded number of tokenizers (each holds
jieba's whole dictionary) however often the keywords change."""

from cityloop.router.classification import segment


def test_keywords_stay_whole_and_old_keyword_sets_are_let_go() -> None:
    segment._tokenizer.cache_clear()
    for n in range(segment.TOKENIZERS_KEPT + 2):
        keywords = frozenset({"井盖松动", f"关键词{n}"})
        assert "井盖松动" in segment.words("路口井盖松动了", keywords)
        assert segment.words("今天１２３号", keywords) == ["今天", "<num>", "号"]
    assert segment._tokenizer.cache_info().currsize == segment.TOKENIZERS_KEPT
