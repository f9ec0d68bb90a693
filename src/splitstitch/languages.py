"""Audio languages as RFC 5646 tags (what HLS LANGUAGE and DASH @lang hold), from the ISO 639-2 codes that
containers store (MP4 `mdhd`, Matroska `Language`).

RFC 5646 takes the shortest ISO 639 code: a 3-letter code that has a 2-letter ISO 639-1 equivalent is not a
valid primary subtag (`eng` -> `en`; bibliographic codes too: `fre`/`fra` -> `fr`, `ger`/`deu` -> `de`).
Other 3-letter codes are their own subtags (`haw`, `yue`, `und`, `mul`, `zxx`). A missing tag, or one that is
not a well-formed language tag, is `und` ("undetermined", itself a registered RFC 5646 tag): it says what
is known, where leaving LANGUAGE out would let a player guess. The table is ISO 639-2's (Debian
iso-codes 4.x, iso_639-2.json: every entry that has an alpha_2, by its alpha_3 and bibliographic codes).
"""

from __future__ import annotations

import re

_PAIRS = (
    "aar:aa abk:ab afr:af aka:ak alb:sq amh:am ara:ar arg:an arm:hy asm:as ava:av ave:ae aym:ay aze:az bak:ba "
    "bam:bm baq:eu bel:be ben:bn bih:bh bis:bi bod:bo bos:bs bre:br bul:bg bur:my cat:ca ces:cs cha:ch che:ce "
    "chi:zh chu:cu chv:cv cor:kw cos:co cre:cr cym:cy cze:cs dan:da deu:de div:dv dut:nl dzo:dz ell:el eng:en "
    "epo:eo est:et eus:eu ewe:ee fao:fo fas:fa fij:fj fin:fi fra:fr fre:fr fry:fy ful:ff geo:ka ger:de gla:gd "
    "gle:ga glg:gl glv:gv gre:el grn:gn guj:gu hat:ht hau:ha heb:he her:hz hin:hi hmo:ho hrv:hr hun:hu hye:hy "
    "ibo:ig ice:is ido:io iii:ii iku:iu ile:ie ina:ia ind:id ipk:ik isl:is ita:it jav:jv jpn:ja kal:kl kan:kn "
    "kas:ks kat:ka kau:kr kaz:kk khm:km kik:ki kin:rw kir:ky kom:kv kon:kg kor:ko kua:kj kur:ku lao:lo lat:la "
    "lav:lv lim:li lin:ln lit:lt ltz:lb lub:lu lug:lg mac:mk mah:mh mal:ml mao:mi mar:mr may:ms mkd:mk mlg:mg "
    "mlt:mt mon:mn mri:mi msa:ms mya:my nau:na nav:nv nbl:nr nde:nd ndo:ng nep:ne nld:nl nno:nn nob:nb nor:no "
    "nya:ny oci:oc oji:oj ori:or orm:om oss:os pan:pa per:fa pli:pi pol:pl por:pt pus:ps que:qu roh:rm ron:ro "
    "rum:ro run:rn rus:ru sag:sg san:sa sin:si slk:sk slo:sk slv:sl sme:se smo:sm sna:sn snd:sd som:so sot:st "
    "spa:es sqi:sq srd:sc srp:sr ssw:ss sun:su swa:sw swe:sv tah:ty tam:ta tat:tt tel:te tgk:tg tgl:tl tha:th "
    "tib:bo tir:ti ton:to tsn:tn tso:ts tuk:tk tur:tr twi:tw uig:ug ukr:uk urd:ur uzb:uz ven:ve vie:vi vol:vo "
    "wel:cy wln:wa wol:wo xho:xh yid:yi yor:yo zha:za zho:zh zul:zu"
)  # fmt: skip
ISO_639_2_TO_1 = dict(pair.split(":") for pair in _PAIRS.split())
WELL_FORMED = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$", re.IGNORECASE)
UNDETERMINED = "und"


def rfc5646(tag: str | None) -> str:
    """The RFC 5646 tag for a container's language tag: `eng` -> `en`, `en-US` kept, missing -> `und`."""
    text = (tag or "").strip().replace("_", "-")
    if not WELL_FORMED.match(text):
        return UNDETERMINED
    primary, _, rest = text.partition("-")
    primary = ISO_639_2_TO_1.get(primary.lower(), primary.lower())
    return f"{primary}-{rest}" if rest else primary
