"""Account managers in a fixed order (issue 17 item 4): id, then the CRM's employee id, then the name;
an ambiguous tier maps nothing and says why; barred employees are no candidates; explicit pairs win."""

from __future__ import annotations

from datetime import UTC, datetime

from crmsync.account_managers import CrmUser, ManagerMap, ManagerMatch, build_map, merged_pairs, name_key
from crmsync.config import TenantConfig
from crmsync.connectors.economic_facts import Employee
from crmsync.context import with_manager_pairs

AT = datetime(2026, 12, 7, tzinfo=UTC)


def emp(number: int, name: str | None = None, *, barred: bool = False) -> Employee:
    return Employee(number=number, name=name, email=None, barred=barred)


def user(
    uid: str, first: str | None = None, last: str | None = None, *, employee_id: str | None = None, full=None
) -> CrmUser:
    return CrmUser(id=uid, first_name=first, last_name=last, employee_id=employee_id, full_name=full)


def match_of(result: ManagerMap, uid: str) -> ManagerMatch:
    (found,) = [m for m in result.matches if m.crm_user_id == uid]
    return found


def test_each_tier_maps_on_its_own():
    employees = [emp(501, "Someone Else"), emp(12, "Other Person"), emp(3, "Anna Berg")]
    users = [
        user("501", "Ole", "Hansen"),
        user("u-2", "Per", "Jensen", employee_id="12"),
        user("u-3", "anna", "berg"),
    ]
    result = build_map(employees, users, {}, built_at=AT)
    assert result.pairs == {"501": "501", "u-2": "12", "u-3": "3"}
    assert [(m.crm_user_id, m.tier) for m in result.matches] == [
        ("501", "id"),
        ("u-2", "employee_id"),
        ("u-3", "name"),
    ]
    assert all(m.reason is None for m in result.matches)
    assert result.built_at == AT


def test_a_later_tier_runs_only_when_the_earlier_found_nothing():
    employees = [emp(7, "Bo Holm"), emp(8, "Ida Lund"), emp(9, "Kim Berg")]
    # id 7 names employee 7 although the user's employee id (8) and name (Kim Berg) name others
    first = build_map(employees, [user("7", "Kim", "Berg", employee_id="8")], {}, built_at=AT)
    assert (first.pairs, match_of(first, "7").tier) == ({"7": "7"}, "id")
    # no employee numbered like the id: the employee id decides, not the name
    second = build_map(employees, [user("u-1", "Kim", "Berg", employee_id="8")], {}, built_at=AT)
    assert (second.pairs, match_of(second, "u-1").tier) == ({"u-1": "8"}, "employee_id")
    # an employee id naming nobody falls through to the name
    third = build_map(employees, [user("u-1", "Kim", "Berg", employee_id="99")], {}, built_at=AT)
    assert (third.pairs, match_of(third, "u-1").tier) == ({"u-1": "9"}, "name")


def test_names_compare_casefolded_with_whitespace_collapsed_and_accents_kept():
    assert name_key("  Søren   KIERKEGAARD ") == name_key("søren kierkegaard")
    assert name_key("Søren Kierkegaard") != name_key("Soren Kierkegaard"), "accents kept"
    assert name_key("Zoe\u0301 Ek") == name_key("Zoé Ek"), "composed and decomposed accents are one name"
    employees = [emp(4, "Soren Kierkegaard"), emp(5, "Søren  Kierkegaard")]
    result = build_map(employees, [user("u", "SØREN", "kierkegaard")], {}, built_at=AT)
    assert result.pairs == {"u": "5"}


def test_the_full_name_stands_in_when_the_crm_gives_no_first_and_last_name():
    result = build_map([emp(6, "Lis Dam")], [user("u", full="Lis Dam")], {}, built_at=AT)
    assert result.pairs == {"u": "6"}


def test_two_employees_of_one_name_map_nothing_and_say_why():
    employees = [emp(7, "Anna Berg"), emp(3, "Anna Berg"), emp(4, "Bo Holm")]
    result = build_map(employees, [user("u-1", "Anna", "Berg"), user("u-2", "Bo", "Holm")], {}, built_at=AT)
    assert result.pairs == {"u-2": "4"}
    anna = match_of(result, "u-1")
    assert (anna.employee_number, anna.tier) == (None, None)
    assert anna.reason == "ambiguous: employees 3 and 7 share the name Anna Berg"


def test_an_employee_two_users_find_in_one_tier_is_nobodys():
    employees = [emp(3, "Anna Berg")]
    users = [user("u-1", "Anna", "Berg"), user("u-2", "anna", "BERG"), user("u-3", employee_id="3")]
    result = build_map(employees, users, {}, built_at=AT)
    assert result.pairs == {"u-3": "3"}, "the earlier tier (employee id) takes the employee first"
    assert match_of(result, "u-1").tier is None

    result = build_map(employees, users[:2], {}, built_at=AT)
    assert result.pairs == {}
    for uid in ("u-1", "u-2"):
        assert match_of(result, uid).reason == "ambiguous: employee 3 is found for CRM users u-1, u-2 (name)"


def test_an_ambiguous_tier_stops_the_later_tiers():
    employees = [emp(3, "Anna Berg"), emp(7, "Anna Berg")]
    users = [user("u-1", employee_id="3"), user("u-2", employee_id="3", first="Anna", last="Berg")]
    result = build_map(employees, users, {}, built_at=AT)
    assert result.pairs == {}, "both claim employee 3 by employee id; the name tier is not tried"
    assert "ambiguous" in (match_of(result, "u-2").reason or "")


def test_barred_employees_are_no_candidates():
    employees = [emp(3, "Anna Berg", barred=True), emp(7, "Anna Berg")]
    result = build_map(employees, [user("u-1", "Anna", "Berg")], {}, built_at=AT)
    assert result.pairs == {"u-1": "7"}, "the barred namesake does not make it ambiguous"

    result = build_map([emp(5, "Bo Holm", barred=True)], [user("5", "Bo", "Holm")], {}, built_at=AT)
    assert result.pairs == {}
    reason = match_of(result, "5").reason or ""
    assert reason.startswith("no employee matches by id, employee id or name")
    assert "employee 5 (id) is barred" in reason


def test_explicit_pairs_win_both_ways():
    employees = [emp(3, "Anna Berg"), emp(4, "Bo Holm"), emp(9, "Kim Dam")]
    users = [user("u-1", "Anna", "Berg"), user("u-2", "Bo", "Holm"), user("u-3", "Kim", "Dam")]
    # u-1 is explicitly employee 9; employee 4 is explicitly another CRM user's (one not listed)
    result = build_map(employees, users, {"u-1": "9", "gone": "4"}, built_at=AT)
    assert result.pairs == {}, "u-1 is explicit, Bo Holm's employee is taken, Kim Dam's employee too"
    assert (match_of(result, "u-1").tier, match_of(result, "u-1").employee_number) == ("explicit", "9")
    assert match_of(result, "gone").tier == "explicit"
    assert "employee 4 (name) is already mapped" in (match_of(result, "u-2").reason or "")
    assert "employee 9 (name) is already mapped" in (match_of(result, "u-3").reason or "")


def test_a_pair_the_value_map_would_refuse_is_not_made():
    result = build_map([emp(1234567890, "Big Number")], [user("u", "Big", "Number")], {}, built_at=AT)
    assert result.pairs == {}
    assert (match_of(result, "u").reason or "").startswith("not mappable: ")


def test_merged_pairs_let_explicit_win_even_when_added_after_the_build():
    automatic = {"u-1": "3", "u-2": "4", "u-3": "5"}
    assert merged_pairs({"u-1": "9", "x": "4"}, automatic) == {"u-3": "5", "u-1": "9", "x": "4"}
    assert merged_pairs({}, automatic) == automatic
    assert merged_pairs({}, {"a": "3", "b": "3", "c": "4"}) == {"c": "4"}, "never two users to one employee"


def test_a_loaded_config_carries_the_automatic_pairs_in_its_value_map():
    config = TenantConfig.model_validate(
        {
            "tenant_id": "t",
            "connections": [{"connection_id": "eco", "kind": "economic"}],
            "value_maps": {"account_manager": {"pairs": {"u-1": "9"}}, "currency": {"pairs": {"kr": "DKK"}}},
        }
    )
    merged = with_manager_pairs(config, {"u-1": "3", "u-2": "4"})
    assert merged.value_maps["account_manager"].pairs == {"u-2": "4", "u-1": "9"}
    assert merged.value_maps["currency"] == config.value_maps["currency"], "other maps as they were"
    assert config.value_maps["account_manager"].pairs == {"u-1": "9"}, "the loaded config is not changed"
    assert with_manager_pairs(config, {}) is config
