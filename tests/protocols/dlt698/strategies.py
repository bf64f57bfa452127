"""Hypothesis strategies for A-XDR data and APDUs of DL/T 698.45 (shared by the tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from protocols import dlt698 as d
from protocols.dlt698.axdr import T

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
oads = u32
piids = u8
octets = st.binary(max_size=40)
dts_values = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0)
)
addresses = st.builds(
    d.ServerAddress,
    st.binary(min_size=1, max_size=16).map(lambda b: b.hex().upper()),
    st.integers(0, 3),
    st.integers(0, 3),
)
roads = st.builds(d.Road, oads, st.lists(oads, max_size=4).map(tuple))
csds = st.one_of(oads, roads)
tis = st.builds(d.Ti, st.integers(0, 5), u16)


def _numbers() -> st.SearchStrategy[d.Data]:
    def tagged(tag: int, lo: int, hi: int) -> st.SearchStrategy[d.Data]:
        return st.integers(lo, hi).map(lambda v: d.Data(tag, v))

    return st.one_of(
        tagged(T.DOUBLE_LONG, -(2**31), 2**31 - 1),
        tagged(T.DOUBLE_LONG_UNSIGNED, 0, 2**32 - 1),
        tagged(T.INTEGER, -128, 127),
        tagged(T.LONG, -(2**15), 2**15 - 1),
        tagged(T.UNSIGNED, 0, 255),
        tagged(T.LONG_UNSIGNED, 0, 0xFFFF),
        tagged(T.LONG64, -(2**63), 2**63 - 1),
        tagged(T.LONG64_UNSIGNED, 0, 2**64 - 1),
        tagged(T.ENUM, 0, 255),
        tagged(T.OI, 0, 0xFFFF),
        tagged(T.OAD, 0, 2**32 - 1),
        tagged(T.OMD, 0, 2**32 - 1),
        st.floats(allow_nan=False, width=32).map(lambda v: d.Data(T.FLOAT32, v)),
        st.floats(allow_nan=False).map(lambda v: d.Data(T.FLOAT64, v)),
    )


ms_values = st.one_of(
    st.sampled_from([d.Ms(0), d.Ms(1)]),
    st.lists(u8, max_size=4).map(lambda x: d.Ms(2, tuple(x))),
    st.lists(addresses, max_size=3).map(lambda x: d.Ms(3, tuple(x))),
    st.lists(u16, max_size=4).map(lambda x: d.Ms(4, tuple(x))),
)

leaves: st.SearchStrategy[d.Data] = st.one_of(
    st.just(d.null()),
    st.booleans().map(lambda v: d.Data(T.BOOL, v)),
    _numbers(),
    octets.map(lambda v: d.Data(T.OCTET_STRING, v)),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20).map(
        lambda v: d.Data(T.VISIBLE_STRING, v)
    ),
    st.text(max_size=10).map(lambda v: d.Data(T.UTF8_STRING, v)),
    st.integers(0, 40).flatmap(
        lambda n: st.binary(min_size=(n + 7) // 8, max_size=(n + 7) // 8).map(
            lambda b: d.Data(T.BIT_STRING, d.BitString(n, b))
        )
    ),
    dts_values.map(d.dts),
    st.tuples(u16, u8, u8, u8, u8, u8)
    .map(lambda t: d.Data(T.DATE_TIME_S, t))
    .filter(lambda x: not _valid(x.value)),
    st.tuples(u16, u8, u8, u8, u8, u8, u8, u16).map(lambda t: d.Data(T.DATE_TIME, t)),
    st.tuples(u16, u8, u8, u8).map(lambda t: d.Data(T.DATE, t)),
    st.times().map(lambda t: d.Data(T.TIME, t.replace(microsecond=0))),
    roads.map(lambda v: d.Data(T.ROAD, v)),
    tis.map(lambda v: d.Data(T.TI, v)),
    addresses.map(lambda v: d.Data(T.TSA, v)),
    octets.map(lambda v: d.Data(T.MAC, v)),
    octets.map(lambda v: d.Data(T.RN, v)),
    st.builds(d.ScalerUnit, st.integers(-128, 127), u8).map(lambda v: d.Data(T.SCALER_UNIT, v)),
    csds.map(lambda v: d.Data(T.CSD, v)),
    st.lists(csds, max_size=4).map(lambda v: d.Data(T.RCSD, tuple(v))),
    ms_values.map(lambda v: d.Data(T.MS, v)),
    st.builds(d.Sid, u32, octets).map(lambda v: d.Data(T.SID, v)),
    st.tuples(st.builds(d.Sid, u32, octets), octets).map(lambda v: d.Data(T.SID_MAC, v)),
    st.builds(d.Comdcb, u8, u8, u8, u8, u8).map(lambda v: d.Data(T.COMDCB, v)),
)


def _valid(fields: tuple[int, ...]) -> bool:
    try:
        datetime(*fields)  # type: ignore[misc]
    except ValueError:
        return False
    return True


def _containers(children: st.SearchStrategy[d.Data]) -> st.SearchStrategy[d.Data]:
    return st.one_of(
        st.lists(children, max_size=5).map(lambda x: d.Data(T.ARRAY, tuple(x))),
        st.lists(children, max_size=5).map(lambda x: d.Data(T.STRUCTURE, tuple(x))),
    )


data: st.SearchStrategy[d.Data] = st.recursive(leaves, _containers, max_leaves=12)

rsds = st.one_of(
    st.just(d.Rsd(0)),
    st.builds(lambda o, v: d.Rsd(1, (o, v)), oads, data),
    st.builds(lambda o, a, b, c: d.Rsd(2, (o, a, b, c)), oads, leaves, leaves, leaves),
    st.builds(lambda t, m: d.Rsd(4, (t, m)), dts_values, ms_values),
    st.builds(lambda a, b, ti, m: d.Rsd(7, (a, b, ti, m)), dts_values, dts_values, tis, ms_values),
    u8.map(d.Rsd.last),
    st.builds(lambda n, m: d.Rsd(10, (n, m)), u8, ms_values),
)
get_records = st.builds(d.GetRecord, oads, rsds, st.lists(csds, max_size=4).map(tuple))
results = st.one_of(
    st.builds(d.ResultNormal, oads, data),
    st.builds(lambda o, dar: d.ResultNormal(o, dar=dar), oads, u8),
)


@st.composite
def result_records(draw: Any) -> d.ResultRecord:
    rcsd = tuple(draw(st.lists(csds, min_size=1, max_size=3)))
    if draw(st.booleans()):
        return d.ResultRecord(draw(oads), rcsd, dar=draw(u8))
    rows = draw(st.lists(st.tuples(*[data] * len(rcsd)), max_size=3))
    return d.ResultRecord(draw(oads), rcsd, tuple(rows))


time_tags = st.one_of(st.none(), st.builds(d.TimeTag, dts_values, tis))
follows = st.one_of(
    st.none(),
    st.lists(results, min_size=1, max_size=2).map(lambda r: d.FollowReport(results=tuple(r))),
    st.lists(result_records(), min_size=1, max_size=2).map(
        lambda r: d.FollowReport(records=tuple(r))
    ),
)
date_time10 = st.tuples(u16, u8, u8, u8, u8, u8, u8, u16)
action_results = st.builds(d.ActionResult, oads, u8, st.one_of(st.none(), data))


def _get(oad: int) -> bytes:
    return d.encode_apdu(d.GetRequest(1, 1, oads=(oad,)))


def _answer(result: d.ResultNormal) -> bytes:
    return d.encode_apdu(d.GetResponse(1, 1, results=(result,)))


def client_apdus() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            lambda p, o, t: d.GetRequest(1, p, oads=(o,), time_tag=t), piids, oads, time_tags
        ),
        st.builds(
            lambda p, o: d.GetRequest(2, p, oads=tuple(o)),
            piids,
            st.lists(oads, min_size=1, max_size=5),
        ),
        st.builds(lambda p, r: d.GetRequest(3, p, records=(r,)), piids, get_records),
        st.builds(
            lambda p, r: d.GetRequest(4, p, records=tuple(r)),
            piids,
            st.lists(get_records, max_size=3),
        ),
        st.builds(lambda p, b: d.GetRequest(5, p, block=b), piids, u16),
        st.builds(lambda p, o: d.GetRequest(6, p, oads=(o,)), piids, oads),
        st.builds(lambda p, o, v: d.SetRequest(1, p, items=((o, v),)), piids, oads, data),
        st.builds(
            lambda p, it, g: d.SetRequest(3, p, items=tuple(it), gets=tuple(g[: len(it)])),
            piids,
            st.lists(st.tuples(oads, data), min_size=2, max_size=2),
            st.lists(st.tuples(oads, u8), min_size=2, max_size=2),
        ),
        st.builds(
            lambda p, it: d.ActionRequest(2, p, items=tuple(it)),
            piids,
            st.lists(st.tuples(oads, data), max_size=3),
        ),
        st.builds(lambda p, o: d.ReportResponse(1, p, tuple(o)), piids, st.lists(oads, max_size=3)),
        st.builds(lambda p: d.ReportResponse(3, p), piids),
        st.builds(d.ReleaseRequest, piids, time_tags),
        st.builds(
            lambda p, m, pw: d.ConnectRequest(
                p, mechanism=m, auth=() if m == 0 else (pw,) if m == 1 else (b"\x01", b"\x02")
            ),
            piids,
            st.integers(0, 3),
            st.text(alphabet="abc123", max_size=8),
        ),
        st.builds(
            lambda p, t, ts: d.ProxyRequest(1, p, timeout=t, targets=tuple(ts)),
            piids,
            u16,
            st.lists(
                st.builds(
                    lambda a, t, o: d.ProxyTarget(a, t, tuple(o)),
                    addresses,
                    u16,
                    st.lists(oads, max_size=3),
                ),
                max_size=2,
            ),
        ),
        st.builds(
            lambda p, a, r: d.ProxyRequest(2, p, timeout=5, record_tsa=a, record=r),
            piids,
            addresses,
            get_records,
        ),
        st.builds(
            lambda p, c: d.ProxyRequest(
                7, p, trans=d.TransCommand(0xF2010201, d.Comdcb(), 30, 100, c)
            ),
            piids,
            octets,
        ),
        st.builds(
            lambda o, rn: d.SecurityRequest(True, _get(o), d.SecurityVerify(1, rn=rn)), oads, octets
        ),
        st.builds(
            lambda b, s, m: d.SecurityRequest(False, b, d.SecurityVerify(0, sid=s, mac=m)),
            octets,
            st.builds(d.Sid, u32, octets),
            octets,
        ),
        st.builds(lambda p, t: d.LinkResponse(p, 0x80, t, t, t), piids, date_time10),
    )


def server_apdus() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            lambda p, r, f, t: d.GetResponse(1, p, results=(r,), follow=f, time_tag=t),
            piids,
            results,
            follows,
            time_tags,
        ),
        st.builds(
            lambda p, r: d.GetResponse(2, p, results=tuple(r)), piids, st.lists(results, max_size=4)
        ),
        st.builds(lambda p, r: d.GetResponse(3, p, records=(r,)), piids, result_records()),
        st.builds(
            lambda p, r: d.GetResponse(4, p, records=tuple(r)),
            piids,
            st.lists(result_records(), max_size=3),
        ),
        st.builds(
            lambda p, last, b, r: d.GetResponse(5, p, results=tuple(r), last=last, block=b),
            piids,
            st.booleans(),
            u16,
            st.lists(results, min_size=1, max_size=3),
        ),
        st.builds(
            lambda p, b, r: d.GetResponse(5, p, records=tuple(r), last=False, block=b),
            piids,
            u16,
            st.lists(result_records(), min_size=1, max_size=2),
        ),
        st.builds(
            lambda p, b, dar: d.GetResponse(5, p, last=True, block=b, dar=dar), piids, u16, u8
        ),
        st.builds(
            lambda p, o, m: d.GetResponse(
                6, p, results=(d.ResultNormal(o, d.Data(T.OCTET_STRING, m)),)
            ),
            piids,
            oads,
            octets,
        ),
        st.builds(
            lambda p, r: d.SetResponse(2, p, results=tuple(r)),
            piids,
            st.lists(st.tuples(oads, u8), max_size=3),
        ),
        st.builds(lambda p, a: d.ActionResponse(1, p, results=(a,)), piids, action_results),
        st.builds(
            lambda p, a, g: d.ActionResponse(3, p, results=(a,), gets=(g,)),
            piids,
            action_results,
            results,
        ),
        st.builds(
            lambda p, r: d.ReportNotification(1, p, results=tuple(r)),
            piids,
            st.lists(results, max_size=3),
        ),
        st.builds(
            lambda p, r: d.ReportNotification(2, p, records=tuple(r)),
            piids,
            st.lists(result_records(), max_size=2),
        ),
        st.builds(
            lambda p, o, f: d.ReportNotification(3, p, port=o, frames=tuple(f)),
            piids,
            oads,
            st.lists(octets, max_size=3),
        ),
        st.builds(lambda p, r: d.ReleaseResponse(p, r), piids, u8),
        st.builds(d.ReleaseNotification, piids, dts_values, dts_values),
        st.builds(
            lambda p, res, sec: d.ConnectResponse(p, result=res, security=sec),
            piids,
            u8,
            st.one_of(st.none(), st.tuples(octets, octets)),
        ),
        st.builds(
            lambda p, ts: d.ProxyResponse(1, p, targets=tuple(ts)),
            piids,
            st.lists(
                st.builds(
                    lambda a, r: d.ProxyTargetResult(a, tuple(r)),
                    addresses,
                    st.lists(results, max_size=2),
                ),
                max_size=2,
            ),
        ),
        st.builds(
            lambda p, a, r: d.ProxyResponse(2, p, record_tsa=a, record=r),
            piids,
            addresses,
            result_records(),
        ),
        st.builds(lambda p, o, b: d.ProxyResponse(7, p, port=o, data=b), piids, oads, octets),
        st.builds(lambda p, o, dar: d.ProxyResponse(7, p, port=o, dar=dar), piids, oads, u8),
        st.builds(
            lambda r, m: d.SecurityResponse(0, _answer(r), mac=m),
            results,
            st.one_of(st.none(), octets),
        ),
        st.builds(lambda dar: d.SecurityResponse(2, dar=dar), u8),
        st.builds(d.ErrorResponse, piids, st.sampled_from([1, 2, 255])),
        st.builds(
            lambda p, k, h, t: d.LinkRequest(p, k, h, t), piids, st.integers(0, 2), u16, date_time10
        ),
    )
