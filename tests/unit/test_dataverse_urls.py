"""The Dataverse org URL: allow-list, legacy URL mapping, and what must never pass."""

from __future__ import annotations

import pytest

from crmsync.connectors.dataverse_urls import DEFAULT_ALLOWED_HOSTS, OrgUrlError, host_allowed, org_root

ON_PREM = (*DEFAULT_ALLOWED_HOSTS, "crm.example.local", "*.corp.example", "crm.example.local:8443")


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://contoso.crm.dynamics.com", "https://contoso.crm.dynamics.com"),
        ("https://contoso.crm.dynamics.com/", "https://contoso.crm.dynamics.com"),
        ("https://Contoso.CRM4.Dynamics.com", "https://contoso.crm4.dynamics.com"),
        ("https://contoso.crm22.dynamics.com", "https://contoso.crm22.dynamics.com"),
        ("https://contoso.crm.dynamics.com:443/", "https://contoso.crm.dynamics.com"),
        (
            "https://org.crm4.dynamics.com/XRMServices/2011/OrganizationData.svc",
            "https://org.crm4.dynamics.com",
        ),
        (
            "https://org.crm4.dynamics.com/xrmservices/2011/organizationdata.svc/",
            "https://org.crm4.dynamics.com",
        ),
        ("https://org.crm.dynamics.com/api/data/v9.2", "https://org.crm.dynamics.com"),
        ("https://org.crm.dynamics.com/api/data/v9.1/", "https://org.crm.dynamics.com"),
        ("https://org.crm.microsoftdynamics.us", "https://org.crm.microsoftdynamics.us"),
        ("https://org.crm.appsplatform.us", "https://org.crm.appsplatform.us"),
        ("https://org.crm.dynamics.cn", "https://org.crm.dynamics.cn"),
        ("https://org.crm.microsoftdynamics.de", "https://org.crm.microsoftdynamics.de"),
    ],
)
def test_cloud_urls_map_to_the_org_root(url: str, root: str) -> None:
    assert org_root(url) == root


@pytest.mark.parametrize(
    ("url", "root"),
    [
        ("https://crm.example.local/Contoso", "https://crm.example.local/Contoso"),
        (
            "https://crm.example.local/Contoso/XRMServices/2011/OrganizationData.svc",
            "https://crm.example.local/Contoso",
        ),
        ("https://crm.example.local/Contoso/api/data/v9.0", "https://crm.example.local/Contoso"),
        ("https://crm.example.local/XRMServices/2011/OrganizationData.svc", "https://crm.example.local"),
        ("https://dyn.corp.example/Sales", "https://dyn.corp.example/Sales"),
        ("https://crm.example.local:8443/Sales", "https://crm.example.local:8443/Sales"),
    ],
)
def test_on_premises_hosts_an_operator_listed(url: str, root: str) -> None:
    assert org_root(url, ON_PREM) == root
    with pytest.raises(OrgUrlError):
        org_root(url)  # not listed by default


@pytest.mark.parametrize(
    "url",
    [
        "http://contoso.crm.dynamics.com",
        "ftp://contoso.crm.dynamics.com",
        "contoso.crm.dynamics.com",
        "https://evil.com/.crm.dynamics.com",
        "https://evil.com/contoso.crm.dynamics.com",
        "https://crm.dynamics.com.evil.com",
        "https://contoso.crm.dynamics.com.evil.com/",
        "https://contoso-crm.dynamics.com",
        "https://crm.dynamics.com",
        "https://a.b.crm.dynamics.com",
        "https://contoso.crm123.dynamics.com",
        "https://contoso.crm0.dynamics.com",
        "https://contosocrm.dynamics.com",
        "https://contoso.crm.dynamics.com.",
        "https://user:pass@contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com@evil.com",
        "https://evil.com#@contoso.crm.dynamics.com",
        "https://evil.com\\@contoso.crm.dynamics.com",
        "https://contoso.crm.dynamics.com:8443",
        "https://contoso.crm.dynamics.com:notaport",
        "https://contoso.crm.dynamics.com/Contoso",
        "https://contoso.crm.dynamics.com/api/data/v9.2/accounts",
        "https://contoso.crm.dynamics.com/XRMServices/2011/Organization.svc",
        "https://contoso.crm.dynamics.com/../XRMServices/2011/OrganizationData.svc",
        "https://contoso.crm.dynamics.com/%2e%2e/",
        "https://contoso.crm.dynamics.com/?x=1",
        "https://contoso.crm.dynamics.com/#frag",
        "https://contoso.crm.dynamics.com /",
        "https://cöntoso.crm.dynamics.com",
        "https://127.0.0.1",
        "https://10.0.0.5:443",
        "https://[::1]",
        "https://2130706433",
        "",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(OrgUrlError):
        org_root(url)


def test_ip_addresses_only_when_listed_literally_and_http_only_when_allowed() -> None:
    with pytest.raises(OrgUrlError):
        org_root("http://127.0.0.1:8765", ("127.0.0.1:8765",))  # http needs allow_http
    with pytest.raises(OrgUrlError):
        org_root("http://127.0.0.1:8765", ("*.0.0.1:8765",), allow_http=True)  # no wildcard for IPs
    assert org_root("http://127.0.0.1:8765", ("127.0.0.1:8765",), allow_http=True) == "http://127.0.0.1:8765"
    with pytest.raises(OrgUrlError):
        org_root("http://127.0.0.1:8766", ("127.0.0.1:8765",), allow_http=True)  # another port


def test_on_premises_org_name_must_be_a_plain_segment() -> None:
    for bad in (
        "https://crm.example.local/a.b",
        "https://crm.example.local/a/b",
        "https://crm.example.local/x y",
    ):
        with pytest.raises(OrgUrlError):
            org_root(bad, ON_PREM)


def test_patterns() -> None:
    assert host_allowed("x.crm9.dynamics.com", 443, DEFAULT_ALLOWED_HOSTS)
    assert not host_allowed("x.crm9.dynamics.com", 80, DEFAULT_ALLOWED_HOSTS)
    assert not host_allowed("x.y.corp.example", 443, ("*.corp.example",)), "* is one label"
    assert host_allowed("crm.example.local", 8443, ("crm.example.local:8443",))
