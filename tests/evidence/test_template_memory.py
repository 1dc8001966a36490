"""This process's copy of the remembered templates is used only while nothing can have changed,
or (PostgreSQL) as a guess the ingest's transaction checks."""

from __future__ import annotations

from chronosops.evidence.template_memory import CheckedCopy, TemplateCheck, TemplateMemory

TOKEN = ("connection", 7)


def _kept(memory: TemplateMemory, templates: dict[str, list[str]]) -> TemplateMemory:
    memory.keep(templates, token=TOKEN, generation=memory.generation)
    return memory


def test_a_kept_copy_answers_while_the_database_token_is_the_same() -> None:
    memory = _kept(TemplateMemory(), {"db": ["pool <*> exhausted"], "api": ["timeout"]})
    assert memory.known({"db"}, TOKEN) == {"db": ["pool <*> exhausted"]}
    assert memory.known({"db", "api"}, TOKEN) == {
        "db": ["pool <*> exhausted"],
        "api": ["timeout"],
    }


def test_nothing_is_answered_once_another_connection_committed_or_without_a_token() -> None:
    memory = _kept(TemplateMemory(), {"db": ["pool <*> exhausted"]})
    assert memory.known({"db"}, ("connection", 8)) is None
    assert memory.known({"db"}, None) is None


def test_a_service_the_copy_does_not_hold_makes_the_caller_read() -> None:
    memory = _kept(TemplateMemory(), {"db": ["pool <*> exhausted"]})
    assert memory.known({"db", "cache"}, TOKEN) is None


def test_a_write_of_this_process_drops_the_service_and_a_copy_taken_before_it() -> None:
    memory = _kept(TemplateMemory(), {"db": ["a"], "api": ["b"]})
    seen = memory.generation
    memory.wrote({"db"})
    assert memory.known({"db"}, TOKEN) is None
    assert memory.known({"api"}, TOKEN) == {"api": ["b"]}
    # A unit that read before that write commits after it: its copy is older, not kept.
    memory.keep({"db": ["a"]}, token=TOKEN, generation=seen)
    assert memory.known({"db"}, TOKEN) is None
    # The writing unit's own copy, taken after its write, is kept.
    memory.keep({"db": ["a", "c"]}, token=TOKEN, generation=memory.generation)
    assert memory.known({"db"}, TOKEN) == {"db": ["a", "c"]}


def test_a_copy_under_a_new_token_replaces_everything_kept_under_the_old_one() -> None:
    memory = _kept(TemplateMemory(), {"db": ["a"], "api": ["b"]})
    memory.keep({"db": ["a"]}, token=("connection", 9), generation=memory.generation)
    assert memory.known({"db"}, ("connection", 9)) == {"db": ["a"]}
    assert memory.known({"api"}, ("connection", 9)) is None
    memory.forget()
    assert memory.known({"db"}, ("connection", 9)) is None


def test_a_checked_copy_answers_only_for_services_it_read_and_says_which_had_none() -> None:
    copy = CheckedCopy()
    copy.keep({"db", "cache"}, {"db": ["pool <*> exhausted"]})
    assert copy.known({"db"}) == {"db": ["pool <*> exhausted"]}
    # Read and found without templates: answered as the read answers it (left out).
    assert copy.known({"db", "cache"}) == {"db": ["pool <*> exhausted"]}
    assert copy.known({"db", "api"}) is None
    copy.forget({"db"})
    assert copy.known({"db"}) is None


def test_a_template_check_notes_what_each_service_was_mined_against() -> None:
    check = TemplateCheck()
    check.mined_against({"db", "cache"}, {"db": ["a"]})
    assert check.used == {"db": ["a"], "cache": None}
