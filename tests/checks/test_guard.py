"""The network guard: forbidden addresses are never connected to, on any hop or spelling."""

import ipaddress

import pytest

from checks import CheckSettings, check_url
from checks.guard import why_forbidden
from checks.settings import SettingsError, parse_networks


@pytest.fixture
def guarded(web, ca_bundle):
    """Settings with the guard's defaults: nothing on loopback is open."""
    return CheckSettings(deadline=3.0, backoff=0.05, ca_bundle=ca_bundle)


def _target(web):
    site = web.site("127.0.0.1")
    site.fallback = web.page(body="<a href='/privacy'>Privacy</a>")
    return site


def _refused(report):
    assert report.liveness.status == "unreachable"
    assert "network guard" in report.liveness.detail
    assert report.verdict == "fail"


@pytest.mark.parametrize(
    "spelling",
    [
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "127.1",
        "[::ffff:127.0.0.1]",
    ],
)
def test_loopback_in_any_spelling_is_never_connected_to(web, guarded, spelling, connect_log):
    site = _target(web)
    report = check_url(f"http://{spelling}:{site.port}/", settings=guarded)
    _refused(report)
    assert site.connections == 0
    assert connect_log == []


def test_localhost_by_name_is_never_connected_to(web, guarded, connect_log):
    site = _target(web)
    _refused(check_url(f"http://localhost:{site.port}/", settings=guarded))
    assert site.connections == 0
    assert connect_log == []


def test_ipv6_loopback_is_never_connected_to(web, guarded, connect_log):
    site = web.site("::1")
    _refused(check_url(f"http://[::1]:{site.port}/", settings=guarded))
    assert site.connections == 0
    assert connect_log == []


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.1",
        "100.64.0.1",
        "[fd00::1]",
        "[fe80::1]",
    ],
)
def test_private_and_link_local_addresses_are_refused_before_any_connection(
    guarded, address, connect_log
):
    report = check_url(f"http://{address}/latest/meta-data/", settings=guarded)
    _refused(report)
    assert connect_log == []


def test_name_resolving_to_the_metadata_address_is_refused(web, guarded, connect_log):
    web.names[("metadata.test", 80)] = ("169.254.169.254", 80)
    _refused(check_url("http://metadata.test/", settings=guarded.with_(resolver=web.resolve)))
    assert connect_log == []


def test_name_with_one_forbidden_address_among_allowed_ones_is_refused(web, guarded, connect_log):
    forbidden = _target(web)
    allowed = web.site("127.0.0.2")

    def resolver(host, port):
        return [("127.0.0.2", allowed.port), ("127.0.0.1", forbidden.port)]

    settings = guarded.with_(allow_networks="127.0.0.2/32", resolver=resolver)
    _refused(check_url("http://mixed.test/", settings=settings))
    assert allowed.connections == forbidden.connections == 0
    assert connect_log == []


def test_redirect_from_an_allowed_host_to_a_forbidden_one_is_not_followed(
    web, guarded, connect_log
):
    forbidden = _target(web)
    allowed = web.site("127.0.0.2")
    allowed.fallback = web.page(302, headers={"Location": f"http://127.0.0.1:{forbidden.port}/"})
    settings = guarded.with_(allow_networks="127.0.0.2/32")
    report = check_url(allowed.url("/"), settings=settings)
    _refused(report)
    assert report.liveness.redirects == 1
    assert allowed.connections >= 1
    assert forbidden.connections == 0
    assert all(addr[0] != "127.0.0.1" for addr in connect_log)


def test_connection_goes_to_the_address_that_was_checked(web, guarded, connect_log):
    forbidden = _target(web)
    allowed = web.site("127.0.0.2")
    allowed.fallback = web.page(body="hello")
    answers = iter([("127.0.0.2", allowed.port)] + [("127.0.0.1", forbidden.port)] * 20)

    def rebinding(host, port):  # a DNS server that changes its answer after the first look-up
        return [next(answers)]

    settings = guarded.with_(allow_networks="127.0.0.2/32", resolver=rebinding)
    check_url("http://rebind.test/", settings=settings)
    assert allowed.connections >= 1
    assert forbidden.connections == 0
    assert {addr[0] for addr in connect_log} == {"127.0.0.2"}


def test_allow_networks_opens_only_the_chosen_network(web, guarded):
    site = _target(web)
    assert (
        check_url(
            site.url("/"), settings=guarded.with_(allow_networks="127.0.0.0/8")
        ).liveness.status
        == "up"
    )
    assert site.connections >= 1


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "224.0.0.1",
        "255.255.255.255",
        "100.64.0.1",
        "198.18.0.1",
        "::",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_named_forbidden(address):
    assert why_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_addresses_are_allowed(address):
    assert why_forbidden(ipaddress.ip_address(address)) is None


def test_allow_networks_setting_is_read_from_the_environment():
    settings = CheckSettings.from_env({"REGISTRY_CHECK_ALLOW_NETWORKS": " 10.0.0.0/8, ::1 "})
    assert [str(n) for n in settings.allow_networks] == ["10.0.0.0/8", "::1/128"]
    assert CheckSettings.from_env({}).allow_networks == ()


def test_bad_allow_networks_value_names_the_variable():
    with pytest.raises(SettingsError, match="REGISTRY_CHECK_ALLOW_NETWORKS.*'10.0.0.0/33'"):
        parse_networks("10.0.0.0/33")


def test_policy_link_to_a_forbidden_address_is_not_followed(web, guarded, connect_log):
    forbidden = _target(web)
    allowed = web.site("127.0.0.2")
    link = f'<a href="http://127.0.0.1:{forbidden.port}/privacy">Privacy policy</a>'
    allowed.routes["/"] = web.page(body=f"<title>Home</title>{link}")
    report = check_url(allowed.url("/"), settings=guarded.with_(allow_networks="127.0.0.2/32"))
    assert report.liveness.status == "up"
    assert report.privacy.status == "unreachable"
    assert "network guard" in report.privacy.detail
    assert forbidden.connections == 0


def test_ipv6_loopback_opens_when_allowed(web, guarded):
    site = web.site("::1")
    site.fallback = web.page(body="hello")
    report = check_url(
        f"http://[::1]:{site.port}/", settings=guarded.with_(allow_networks="::1/128")
    )
    assert report.liveness.status == "up"
    assert site.connections >= 1
