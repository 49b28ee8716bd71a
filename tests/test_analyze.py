from __future__ import annotations

from qabot.ingest.analyze import Analyzer, detect_language, fold_accents, stopwords, words


def test_french_elisions_are_split_off() -> None:
    assert words("L’armée d'Afrique jusqu'à qu'il lorsqu’elle") == [
        "armée", "afrique", "à", "il", "elle"]


def test_french_terms_are_stemmed_folded_and_stopword_free() -> None:
    a = Analyzer("fr")
    assert a.terms("Les nouvelles recrues de l'armée sont arrivées au camp") == [
        "nouvel", "recru", "arme", "arrive", "camp"]


def test_accented_and_unaccented_spellings_meet() -> None:
    a = Analyzer("fr")
    assert a.terms("États-Unis") == a.terms("Etats-Unis") == ["etat", "unis"]
    assert a.terms("sécurité") == a.terms("securite")


def test_english_terms_are_stemmed_and_possessives_dropped() -> None:
    assert Analyzer("en").terms("The Army's recruits were training") == [
        "armi", "recruit", "train"]


def test_question_words_of_the_question_language_are_dropped() -> None:
    terms = Analyzer("fr", stopwords("en")).terms("How long is the training at Bougouni?")
    assert terms == ["long", "training", "bougoun"]


def test_numbers_are_kept() -> None:
    assert Analyzer("fr").terms("900 recrues en 2025") == ["900", "recru", "2025"]


def test_fold_accents() -> None:
    assert fold_accents("Génie Ça où") == "Genie Ca ou"


def test_language_detection() -> None:
    assert detect_language("Le ministre a reçu le diplomate pour échanger sur la paix.") == "fr"
    assert detect_language("The minister received the diplomat to talk about peace.") == "en"
    assert detect_language("Der Minister hat den Diplomaten empfangen und mit ihm gesprochen.") == "de"
    assert detect_language("", default="fr") == "fr"


def test_bm25_sees_stem_and_exact_word() -> None:
    terms = Analyzer("fr").index_terms("Les recrues construisent")
    assert terms == ["recru", "construisent", "=recrues", "=construisent"]
    # An inflection meets its stem, not its exact form; a mere derivation meets neither (the
    # five-letter prefix view that joined "construction" to "construisent" is gone).
    assert set(Analyzer("fr").index_terms("recrue")) & set(terms) == {"recru"}
    assert not set(Analyzer("fr").index_terms("construction")) & set(terms)
