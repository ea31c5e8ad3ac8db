"""E-mail and web domains that identify a company (free-mail providers and profile hosts do not).

A shared company domain is strong evidence; a shared gmail.com is none, but the same free-mail
address still names one person's mailbox."""

from __future__ import annotations

import re

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "icloud.com", "me.com", "mac.com", "aol.com", "msn.com", "proton.me",
        "pm.me", "tutanota.com", "tuta.io", "hushmail.com", "fastmail.com", "fastmail.fm", "mail.com",
        "email.com", "usa.net", "rocketmail.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
        "mailbox.org", "posteo.de", "qq.com", "163.com", "126.com", "naver.com", "rediffmail.com",
        # Denmark
        "mail.dk", "jubii.dk", "ofir.dk", "get2net.dk", "tdcadsl.dk", "youmail.dk", "stofanet.dk", "webspeed.dk",
        "pc.dk", "post.tele.dk", "city.dk", "email.dk", "sol.dk", "worldonline.dk", "privat.dk", "fiberpost.dk",
        "c.dk", "forum.dk", "image.dk", "oncable.dk", "post.cybercity.dk", "mail.tele.dk", "tiscali.dk",
        # Sweden, Norway, Finland
        "telia.com", "bredband.net", "comhem.se", "spray.se", "passagen.se", "home.se", "swipnet.se", "tele2.se",
        "bahnhof.se", "online.no", "broadpark.no", "getmail.no", "frisurf.no", "c2i.net", "start.no",
        "suomi24.fi", "luukku.com", "kolumbus.fi", "welho.com", "elisanet.fi", "saunalahti.fi",
        # Germany, Austria, Switzerland
        "web.de", "t-online.de", "freenet.de", "arcor.de", "online.de", "gmx.de", "aon.at", "chello.at",
        "bluewin.ch", "hispeed.ch", "sunrise.ch",
        # France, Benelux, Italy, Iberia
        "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr", "laposte.net", "neuf.fr", "club-internet.fr",
        "hetnet.nl", "home.nl", "ziggo.nl", "kpnmail.nl", "planet.nl", "chello.nl", "xs4all.nl", "telenet.be",
        "skynet.be", "proximus.be", "scarlet.be", "pandora.be", "libero.it", "virgilio.it", "alice.it",
        "tiscali.it", "tin.it", "sapo.pt", "terra.es", "telefonica.net",
        # UK, Ireland
        "btinternet.com", "sky.com", "virginmedia.com", "blueyonder.co.uk", "talktalk.net", "ntlworld.com",
        "tiscali.co.uk", "eircom.net",
        # Central/Eastern Europe
        "seznam.cz", "centrum.cz", "atlas.cz", "email.cz", "post.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl",
        "op.pl", "gazeta.pl", "tlen.pl", "poczta.onet.pl", "freemail.hu", "citromail.hu", "mail.ru", "bk.ru",
        "list.ru", "inbox.ru", "rambler.ru", "inbox.lv", "abv.bg", "mail.bg",
    }
)  # fmt: skip
"""Mailbox providers whose domain says nothing about which company a customer is."""

FREE_MAIL_BRANDS: frozenset[str] = frozenset(
    {
        "gmail",
        "hotmail",
        "outlook",
        "live",
        "windowslive",
        "yahoo",
        "ymail",
        "gmx",
        "protonmail",
        "yandex",
        "aol",
    }
)
"""Providers with a domain per country (hotmail.dk, outlook.de, yahoo.co.uk, gmx.net, yandex.ru)."""

SHARED_WEB_HOSTS: frozenset[str] = frozenset(
    {
        "facebook.com", "fb.com", "linkedin.com", "instagram.com", "twitter.com", "x.com", "youtube.com",
        "tiktok.com", "google.com", "sites.google.com", "business.site", "krak.dk", "proff.dk", "cvr.dk",
        "degulesider.dk", "allabolag.se", "proff.se", "proff.no", "gulesider.no", "yelp.com",
    }
)  # fmt: skip
"""Web addresses many companies share (profile pages), never a company's own domain."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*://")
_WWW = re.compile(r"^www\d*\.")
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+$")


def is_free_mail(domain: str) -> bool:
    """True for consumer mailbox domains (gmail.com, hotmail.dk, yahoo.co.uk, mail.dk, web.de, ...)."""
    domain = domain.lower().strip(".")
    if domain in FREE_MAIL_DOMAINS:
        return True
    labels = domain.split(".")
    # brand + public suffix: "hotmail.dk", "yahoo.co.uk", "outlook.com.au" (not "live.example.com")
    return (
        labels[0] in FREE_MAIL_BRANDS
        and 2 <= len(labels) <= 3
        and all(len(label) <= 3 for label in labels[1:])
    )


def _clean_domain(host: str) -> str | None:
    host = host.strip().lower().strip(".")
    host = _WWW.sub("", host)
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None
    return host if _DOMAIN.match(host) else None


def email_domain(email: str | None) -> str | None:
    """The company domain of an e-mail address; None for free-mail providers and garbage."""
    if not email or "@" not in email:
        return None
    domain = _clean_domain(email.strip().rsplit("@", 1)[1].rstrip(">"))
    if domain is None or is_free_mail(domain):
        return None
    return domain


def _mailbox(email: str | None) -> str | None:
    """A free-mail address itself ("jens.hansen@gmail.com"): a person's mailbox, so it still identifies.

    Company-domain addresses return None; their domain already counts.
    """
    if not email or "@" not in email:
        return None
    local, _, host = email.strip().lower().rpartition("@")
    domain = _clean_domain(host)
    if not local or domain is None or not is_free_mail(domain):
        return None
    return f"{local}@{domain}"


def website_domain(website: str | None) -> str | None:
    """The domain of a web address ("https://www.example.dk/kontakt" -> "example.dk"), minus profile hosts."""
    if not website:
        return None
    text = website.strip().lower()
    if "@" in text and "/" not in text:
        return email_domain(text)
    text = _SCHEME.sub("", text)
    host = re.split(r"[/?#]", text, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    domain = _clean_domain(host)
    if domain is None or domain in SHARED_WEB_HOSTS or is_free_mail(domain):
        return None
    return domain
